"""`recon adapters list | check | convert` as a user runs them."""

from click.testing import CliRunner

from pipelines.cli import main
from tests.recon.adapters.provider_exports import (
    STRIPE_CHARGE_COLUMNS,
    stripe_charge,
    write_csv,
)

AT_10 = 1773136800  # 2026-03-10 10:00:00 UTC


def charges(path, *, bad: bool = False):
    rows = [stripe_charge("ch_1", "chk_1", 4990, AT_10)]
    if bad:
        rows.append(stripe_charge("ch_2", None, 990, AT_10 + 60))
    return write_csv(path, STRIPE_CHARGE_COLUMNS, rows)


def run(*args):
    return CliRunner().invoke(main, ["adapters", *map(str, args)])


def test_list_names_each_adapter_its_source_and_document():
    result = run("list")
    assert result.exit_code == 0, result.output
    listed = {}
    for line in result.output.splitlines():
        if " -> " in line:
            name, rest = line.split(" -> ")
            listed[name.strip()] = rest.split()[0]
    assert listed == {
        "adyen_settlement_details": "payments",
        "adyen_settlement_lines": "settlements",
        "ga4_events": "analytics_events",
        "segment_track": "analytics_events",
        "shopify_orders": "orders",
        "stripe_balance_settlements": "settlements",
        "stripe_balance_transactions": "payments",
        "stripe_charges": "payments",
        "stripe_payouts": "payouts",
        "stripe_refunds": "payments",
    }
    assert "https://docs.stripe.com/api/charges" in result.output
    # One column for the arrows, however long the names.
    assert len({line.index(" -> ") for line in result.output.splitlines() if " -> " in line}) == 1


def test_check_prints_what_would_load_and_exits_0_when_every_row_maps(tmp_path):
    result = run("check", "--adapter", "stripe_charges", "--file", charges(tmp_path / "c.csv"))
    assert result.exit_code == 0, result.output
    assert "1 row(s) would load, 0 quarantined" in result.output
    assert "c.csv:2  payment_id=ch_1 checkout_id=chk_1" in result.output
    assert not (tmp_path / "landing").exists()


def test_check_lists_each_quarantined_row_with_its_reason_and_exits_1(tmp_path):
    result = run("check", "--adapter", "stripe_charges", "--file",
                 charges(tmp_path / "c.csv", bad=True))  # fmt: skip
    assert result.exit_code == 1
    assert "line 3  missing_value: column checkout_id: is missing" in result.output
    assert "1 row(s) would be quarantined" in result.output


def test_convert_writes_a_landing_file_per_date_and_the_quarantine_beside_them(tmp_path):
    landing = tmp_path / "landing"
    export = charges(tmp_path / "charges.csv", bad=True)
    for _ in range(2):  # converting again replaces, never duplicates
        result = run("convert", "--adapter", "stripe_charges", "--file", export,
                     "--landing", landing)  # fmt: skip
        assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(landing).as_posix() for p in landing.rglob("*.parquet")) == [
        "payments/2026-03-10/stripe_charges-charges-00.parquet",
        "payments/_quarantine/stripe_charges-charges.parquet",
    ]


def test_a_bad_mapping_file_is_a_usage_error_naming_its_line(tmp_path):
    mapping = tmp_path / "mine.yaml"
    mapping.write_text("name: mine\ntarget: payment\n", encoding="utf-8")
    result = run("check", "--adapter", mapping, "--file", charges(tmp_path / "c.csv"))
    assert result.exit_code == 2
    assert f"{mapping}:2: target:" in result.output


def test_an_unknown_adapter_or_missing_file_is_a_usage_error(tmp_path):
    result = run("check", "--adapter", "paypal", "--file", charges(tmp_path / "c.csv"))
    assert (result.exit_code, "no adapter named 'paypal'" in result.output) == (2, True)
    result = run("check", "--adapter", "stripe_charges", "--file", tmp_path / "nope.csv")
    assert (result.exit_code, "does not exist" in result.output) == (2, True)


def test_a_folder_maps_the_files_matching_the_adapters_pattern(tmp_path):
    charges(tmp_path / "exports" / "charges-1.csv")
    charges(tmp_path / "exports" / "refunds-1.csv")  # another adapter's file: not read
    result = run("check", "--adapter", "stripe_charges", "--file", tmp_path / "exports")
    assert result.exit_code == 0, result.output
    assert "charges-1.csv: stripe_charges" in result.output
    assert "refunds-1.csv" not in result.output


def test_a_toml_mapping_file_is_an_adapter_and_its_errors_name_a_line(tmp_path):
    mapping = tmp_path / "mine.toml"
    mapping.write_text(
        'name = "mine"\ntarget = "payments"\nprovider = "P"\ndocument = "d"\n\n[columns]\n'
        'payment_id = {from = "id"}\ncheckout_id = {from = "checkout_id (metadata)"}\n'
        'idempotency_key = {template = "{checkout_id}:payment.capture"}\n'
        'kind = {const = "capture"}\nstatus = {from = "status"}\n'
        'amount_minor = {from = "amount"}\ncurrency = {from = "currency"}\n'
        'created_at = {from = "created", timestamp = {formats = ["unix_seconds"]}}\n',
        encoding="utf-8",
    )
    result = run("check", "--adapter", mapping, "--file", charges(tmp_path / "c.csv"))
    assert result.exit_code == 0, result.output
    assert "c.csv: mine -> payments: 1 record(s) read" in result.output
    mapping.write_text(mapping.read_text().replace('"capture"}', '"capture", from = "x"}'))
    result = run("check", "--adapter", mapping, "--file", tmp_path / "c.csv")
    assert result.exit_code == 2
    assert f"{mapping}:10: columns.kind:" in result.output
