"""The mapping operations built-in adapters lean on, in a custom mapping: each row's own time
zone, one value of a repeated key/value record, amounts signed the other way, values that mean
none."""

import re
import textwrap
from datetime import datetime

import pytest

from recon.adapters.apply import apply_mapping
from recon.adapters.mapping_files import MappingError, load_mapping
from tests.recon.adapters.provider_exports import write_csv, write_jsonl

PAYMENTS = """\
name: psp
target: payments
provider: Example PSP
document: https://psp.example/docs/export
columns:
  payment_id: {from: Ref}
  checkout_id: {from: Order}
  idempotency_key: {template: "{checkout_id}:payment.capture"}
  kind: {const: capture}
  status: {const: succeeded}
  amount_minor: {from: Amount}
  currency: {const: EUR}
  created_at:
    from: Booked
    timestamp:
      formats: ["%Y-%m-%d %H:%M"]
      timezone: Europe/Berlin
      timezone_from: Zone
      zones: {CET: "+01:00", NST: "-03:30"}
"""
COLUMNS = ("Ref", "Order", "Amount", "Booked", "Zone")


def write(tmp_path, text: str, name: str = "psp.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def rows_of(mapped, *names):
    return [tuple(r[n] for n in names) for r in mapped.rows.to_pylist()]


def test_each_row_is_read_in_the_zone_its_own_column_names(tmp_path):
    rows = [
        ("p1", "o1", "100", "2026-03-10 10:00", "CET"),  # an abbreviation the mapping declares
        ("p2", "o2", "100", "2026-03-10 10:00", "NST"),  # a negative, non-whole-hour offset
        ("p3", "o3", "100", "2026-07-10 10:00", "America/New_York"),  # a Region/City name
        ("p4", "o4", "100", "2026-07-10 10:00", "+05:30"),  # an offset as is
        ("p5", "o5", "100", "2026-07-10 10:00", ""),  # blank: the mapping's `timezone`
        ("p6", "o6", "100", "2026-07-10 10:00", "IST"),  # ambiguous, not declared
    ]
    records = [dict(zip(COLUMNS, r, strict=True)) for r in rows]
    export = write_csv(tmp_path / "p.csv", COLUMNS, records)
    mapped = apply_mapping(load_mapping(write(tmp_path, PAYMENTS)), export)
    assert rows_of(mapped, "payment_id", "created_at") == [
        ("p1", datetime(2026, 3, 10, 9, 0)),
        ("p2", datetime(2026, 3, 10, 13, 30)),
        ("p3", datetime(2026, 7, 10, 14, 0)),
        ("p4", datetime(2026, 7, 10, 4, 30)),
        ("p5", datetime(2026, 7, 10, 8, 0)),
    ]
    [bad] = mapped.quarantine.to_pylist()
    assert (bad["line"], bad["reason"]) == (7, "unparseable_timestamp")
    assert "unknown time zone IST (from Zone" in bad["detail"]


def test_amounts_signed_the_other_way_are_negated_only_where_the_condition_holds(tmp_path):
    text = PAYMENTS.replace(
        "  amount_minor: {from: Amount}",
        "  amount_minor:\n    from: Amount\n    negate_when: {column: Order, in: [r1, r2]}",
    )
    rows = [("p1", "o1", "250"), ("p2", "r1", "-250"), ("p3", "r2", "250")]
    export = write_csv(
        tmp_path / "p.csv",
        COLUMNS,
        [dict(zip(COLUMNS, (*r, "2026-03-10 10:00", "CET"), strict=True)) for r in rows],
    )
    mapped = apply_mapping(load_mapping(write(tmp_path, text)), export)
    assert rows_of(mapped, "payment_id", "amount_minor") == [("p1", 250), ("p2", 250)]
    # A negated positive amount is negative: quarantined, never silently made positive.
    assert [r["reason"] for r in mapped.quarantine.to_pylist()] == ["non_positive_amount"]


def test_a_key_of_a_repeated_record_is_read_like_a_column_in_filters_and_values(tmp_path):
    text = """\
    name: events
    target: analytics_events
    provider: Example
    document: https://example.com/docs
    filter: {column: "params[key=step]", equals: "2"}
    columns:
      event_id: {from: id}
      event_name: {const: checkout_started}
      checkout_id: {from: ["params[key=checkout]", "params[key=order]"], blank: ["(not set)"]}
      occurred_at: {from: at, timestamp: {formats: [unix_microseconds]}}
      received_at: {from: at, timestamp: {formats: [unix_microseconds]}}
    """

    def params(**values):
        kinds = {str: "string_value", int: "int_value", float: "double_value"}
        return [{"key": k, "value": {kinds[type(v)]: v}} for k, v in values.items()]

    export = write_jsonl(
        tmp_path / "e.jsonl",
        [
            {"id": "e1", "at": 1773136800000001, "params": params(step=2, checkout="c1")},
            {"id": "e2", "at": 1773136800000002, "params": params(step=1, checkout="c2")},
            {
                "id": "e3",
                "at": 1773136800000003,
                "params": params(step=2, checkout="(not set)", order=5.5),
            },
            # Not a list of records: no value, and no failure of the query.
            {"id": "e4", "at": 1773136800000004, "params": "step=2"},
        ],
    )
    mapped = apply_mapping(load_mapping(write(tmp_path, text)), export)
    assert rows_of(mapped, "event_id", "checkout_id", "occurred_at") == [
        ("e1", "c1", datetime(2026, 3, 10, 10, 0, 0, 1)),
        ("e3", "5.5", datetime(2026, 3, 10, 10, 0, 0, 3)),
    ]
    assert mapped.filtered_out == 2
    assert mapped.missing_columns == []


def test_a_toml_mapping_maps_like_its_yaml_twin(tmp_path):
    toml = """\
    name = "psp"
    target = "payments"
    provider = "Example PSP"
    document = "https://psp.example/docs/export"

    [columns]
    payment_id = {from = "Ref"}
    checkout_id = {from = "Order"}
    idempotency_key = {template = "{checkout_id}:payment.capture"}
    kind = {const = "capture"}
    status = {const = "succeeded"}
    amount_minor = {from = "Amount"}
    currency = {const = "EUR"}

    [columns.created_at]
    from = "Booked"

    [columns.created_at.timestamp]
    formats = ["%Y-%m-%d %H:%M"]
    timezone = "Europe/Berlin"
    timezone_from = "Zone"
    zones = {CET = "+01:00", NST = "-03:30"}
    """
    assert load_mapping(write(tmp_path, toml, "psp.toml")) == load_mapping(
        write(tmp_path, PAYMENTS)
    )


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        # A syntax error: the line tomllib reports.
        ('name = "psp"\ntarget = "payments\n', 2, "not valid TOML"),
        # A validation problem: the line of the key it concerns, by the file's text.
        ('name = "psp"\ntarget = "payments"\nprovider = "P"\ndocument = "d"\n\n[columns]\n'
         'payment_id = {from = "Ref"}\n\n[columns.kind]\nconst = "capture"\nfrom = "Kind"\n',
         9, "columns.kind: a column needs exactly one of from, const, template, cases"),
        ('name = "psp"\ntarget = "payment"\n', 2, "target:"),
    ],
)  # fmt: skip
def test_a_bad_toml_mapping_names_the_line_it_can(tmp_path, text, line, message):
    path = write(tmp_path, text, "psp.toml")
    with pytest.raises(MappingError) as raised:
        load_mapping(path)
    assert f"{path}:{line}:" in str(raised.value)
    assert message in str(raised.value)


def test_a_zone_that_is_neither_a_region_nor_an_offset_is_refused_at_its_line(tmp_path):
    path = write(tmp_path, PAYMENTS.replace('NST: "-03:30"', "NST: Newfoundland"))
    with pytest.raises(MappingError, match=rf"{path}:19: .*zones: NST: 'Newfoundland' is neither"):
        load_mapping(path)


LINES = """\
name: psp_lines
target: settlements
provider: Example PSP
document: https://psp.example/docs/settlement-lines
columns:
  settlement_line_id: {from: Id}
  payout_id: {const: po_1}
  psp_reference: {from: Ref}
  line_type: {const: charge}
  # A credit less a debit: the gross columns when the line has a gross, else the net ones.
  gross_minor:
    cases:
      - when: {column: Gross Currency, present: true}
        sum: {add: Gross Credit, subtract: Gross Debit}
      - when: {column: Gross Currency, present: false}
        sum: {add: Net Credit, subtract: Net Debit}
    minor_units: {currency: currency}
  fee_minor:
    sum: {add: [Fee A, Fee B]}
    else: "0"
    minor_units: {currency: currency}
  net_minor:
    sum: {add: [Net Credit], subtract: [Net Debit]}
    minor_units: {currency: currency}
  currency: {from: Currency}
  settled_at: {from: At, timestamp: {formats: [iso]}}
"""
LINE_COLUMNS = (
    "Id", "Ref", "Gross Currency", "Gross Credit", "Gross Debit", "Net Credit", "Net Debit",
    "Fee A", "Fee B", "Currency", "At",
)  # fmt: skip


def test_a_sum_adds_and_subtracts_decimal_columns_blank_ones_counting_as_zero(tmp_path):
    rows = [
        ("l1", "r1", "EUR", "5.00", "", "4.88", "", "0.04", "0.08", "EUR"),
        # A debit: negative; one fee column only.
        ("l2", "r2", "EUR", "", "349.99", "", "357.49", "7.5", "", "EUR"),
        # No gross: the net columns count; no fee column: `else`.
        ("l3", "r3", "", "", "", "", "12.00", "", "", "EUR"),
        # Fees above the amount: a negative net, the gross still the gross columns'.
        ("l4", "r4", "JPY", "10", "", "", "5", "15", "", "JPY"),
        # Not a decimal: the value itself, so the conversion quarantines it (never a zero).
        ("l5", "r5", "EUR", "5.00", "", "4,88", "", "0.12", "", "EUR"),
        # Finer than the currency once summed: quarantined, never rounded.
        ("l6", "r6", "JPY", "5", "", "4.5", "", "0.25", "0.25", "JPY"),
        # Nothing to add up and no `else`: the value is missing.
        ("l7", "r7", "EUR", "", "", "", "", "", "", "EUR"),
    ]
    export = write_csv(
        tmp_path / "lines.csv",
        LINE_COLUMNS,
        [dict(zip(LINE_COLUMNS, (*r, "2026-03-10T10:00:00Z"), strict=True)) for r in rows],
    )
    mapped = apply_mapping(load_mapping(write(tmp_path, LINES)), export)
    assert rows_of(mapped, "settlement_line_id", "gross_minor", "fee_minor", "net_minor") == [
        ("l1", 500, 12, 488),
        ("l2", -34999, 750, -35749),
        ("l3", -1200, 0, -1200),
        ("l4", 10, 15, -5),
    ]
    assert [(r["line"], r["reason"], r["detail"]) for r in mapped.quarantine.to_pylist()] == [
        (6, "invalid_integer",
         "column net_minor (from Net Credit, Net Debit): not an amount in major units of its "
         "currency: 4,88"),
        (7, "invalid_integer",
         "column fee_minor (from Fee A, Fee B): not an amount in major units of its currency: "
         "0.5"),
        (8, "missing_value", "column gross_minor: is missing"),
    ]  # fmt: skip
    assert mapped.missing_columns == []


FEES = "sum: {add: [Fee A, Fee B]}"
GROSS_CASE = "sum: {add: Gross Credit, subtract: Gross Debit}"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (FEES, "sum: {add: []}", "columns.fee_minor.sum: a sum needs at least one column"),
        (FEES, FEES + "\n    from: Fee B", "exactly one of from, const, template, cases, sum"),
        (FEES, FEES + "\n    timestamp: {formats: [iso]}", "a sum is an amount"),
        (FEES, FEES + "\n    url_param: x", "a sum is an amount"),
        (GROSS_CASE, GROSS_CASE + "\n        from: Net Credit", "a case needs exactly one of"),
        ("currency: {from: Currency}", "currency: {sum: {add: Currency}}", "sum on a currency"),
    ],
)
def test_a_sum_without_columns_or_with_another_origin_is_refused(tmp_path, old, new, message):
    assert old in LINES
    path = write(tmp_path, LINES.replace(old, new))
    with pytest.raises(MappingError, match=rf"{path}:\d+: .*{re.escape(message)}"):
        load_mapping(path)
