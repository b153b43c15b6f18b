"""A custom mapping file: what it can express, and the errors that name its line."""

import textwrap
from datetime import datetime

import pytest

from recon.adapters.apply import apply_mapping
from recon.adapters.mapping_files import MappingError, load_mapping
from tests.recon.adapters.provider_exports import write_csv

HEADER = """\
name: shop_payments
target: payments
provider: Example PSP
document: https://psp.example/docs/export
format: csv
"""

COLUMNS = """\
columns:
  payment_id: {from: Reference}
  checkout_id: {from: Order}
  idempotency_key: {template: "{checkout_id}:payment.capture"}
  kind: {const: capture}
  status:
    from: Result
    map: {OK: succeeded, DECLINED: failed}
  amount_minor:
    from: Amount
    minor_units: {currency: currency}
  currency: {from: Currency}
  created_at:
    from: Booked
    timestamp: {formats: ["%d/%m/%Y %H:%M"], timezone: Europe/Berlin}
"""


def mapping_file(tmp_path, text: str):
    path = tmp_path / "psp.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_custom_mapping_parses_local_times_and_major_units(tmp_path):
    mapping = load_mapping(mapping_file(tmp_path, HEADER + 'filter: {column: Type, equals: sale}\n'
                                        + COLUMNS))  # fmt: skip
    columns = ("Reference", "Order", "Type", "Result", "Amount", "Currency", "Booked")
    rows = [
        ("p1", "o1", "sale", "OK", "12.5", "EUR", "31/03/2026 01:30"),
        ("p2", "o2", "sale", "DECLINED", "1.234", "KWD", "10/03/2026 09:00"),
        ("p3", "o3", "payout", "OK", "99", "EUR", "10/03/2026 09:00"),
        ("p4", "o4", "sale", "OK", "10", "EUR", "2026-03-10"),
    ]
    export = write_csv(
        tmp_path / "psp.csv", columns, [dict(zip(columns, r, strict=True)) for r in rows]
    )
    mapped = apply_mapping(mapping, export)
    rows = mapped.rows.to_pylist()
    # Berlin is UTC+2 after the DST change of 29 March, UTC+1 before it; KWD has 3 decimals.
    assert [(r["payment_id"], r["status"], r["amount_minor"], r["created_at"]) for r in rows] == [
        ("p1", "succeeded", 1250, datetime(2026, 3, 30, 23, 30)),
        ("p2", "failed", 1234, datetime(2026, 3, 10, 8, 0)),
    ]
    assert mapped.filtered_out == 1
    [bad] = mapped.quarantine.to_pylist()
    assert (bad["line"], bad["reason"]) == (5, "unparseable_timestamp")
    assert "not a timestamp in %d/%m/%Y %H:%M: 2026-03-10" in bad["detail"]


def test_names_and_values_in_a_mapping_are_quoted_never_run_as_sql(tmp_path):
    hostile = "x'); drop table provider; --"
    text = (
        HEADER
        + f'filter: {{column: "a\\"b", not_in: ["{hostile}"]}}\n'
        + COLUMNS.replace("{const: capture}", f'{{const: "{hostile}"}}').replace(
            "{from: Order}", '{from: "a\\"b"}'
        )
    )
    mapping = load_mapping(mapping_file(tmp_path, text))
    columns = ("Reference", 'a"b', "Result", "Amount", "Currency", "Booked")
    values = ("p1", "o1", "OK", "1", "EUR", "10/03/2026 09:00")
    export = write_csv(tmp_path / "psp.csv", columns, [dict(zip(columns, values, strict=True))])
    mapped = apply_mapping(mapping, export)
    [row] = mapped.quarantine.to_pylist()
    # The constant is a value like any other: the contract finds it is no payment kind.
    assert row["reason"] == "unknown_enum"
    assert hostile[:20] in row["detail"]


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (("kind: {const: capture}", "kind: {const: capture, from: Kind}"), 10,
         "exactly one of from, const, template, cases"),
        (("timezone: Europe/Berlin", "timezone: Mars/Olympus"), 20, "unknown time zone"),
        (("currency: {from: Currency}", "currency: {from: Currency}\n  colour: {from: C}"), 18,
         "columns.colour: not a payments column"),
        (("{checkout_id}:payment.capture", "{checkout}:payment.capture"), 9,
         "template names 'checkout'"),
        (("  payment_id: {from: Reference}\n", ""), 6, "required payments column(s) not mapped"),
        (("formats: [", "formats: [unix_days, "), 20, "unknown timestamp format 'unix_days'"),
    ],
)  # fmt: skip
def test_a_bad_mapping_names_the_line_of_the_problem(tmp_path, change, line, message):
    old, new = change
    assert old in COLUMNS
    path = mapping_file(tmp_path, HEADER + COLUMNS.replace(old, new))
    with pytest.raises(MappingError) as raised:
        load_mapping(path)
    assert f"{path}:{line}:" in str(raised.value)
    assert message in str(raised.value)


def test_a_mapping_that_is_not_yaml_names_its_line(tmp_path):
    path = mapping_file(tmp_path, HEADER + "columns:\n  payment_id: {from: [unclosed\n")
    # Where the parser noticed: the end of the file, which never closed the list of line 7.
    with pytest.raises(MappingError, match=rf"{path}:8: not valid YAML(.|\n)*line 7"):
        load_mapping(path)
