"""Ingestion: every format, each quarantine reason, conservation of rows, all-or-nothing loads."""

import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

import sql
from recon.contract import SOURCES
from recon.ingest import ingest_source
from recon.readers import MissingColumnsError, UnreadableFileError
from recon.warehouse import connect

DAY = date(2026, 1, 2)


def payment(**overrides) -> dict:
    row = {
        "payment_id": "p1",
        "checkout_id": "c1",
        "idempotency_key": "c1:payment.authorize",
        "kind": "authorization",
        "status": "succeeded",
        "amount_minor": 1000,
        "currency": "EUR",
        "created_at": "2026-01-02T10:00:00Z",
        "psp_reference": "psp_1",
        "parent_payment_id": None,
        "failure_code": None,
    }
    row.update(overrides)
    return row


def write_jsonl(landing: Path, source: str, day: date, lines: list[str], name="part.jsonl") -> Path:
    folder = landing / source / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def con(tmp_path) -> duckdb.DuckDBPyConnection:
    connection = connect(tmp_path / "warehouse.duckdb")
    yield connection
    connection.close()


def quarantine(con) -> list[tuple]:
    return con.execute(
        "select _line, reason, detail from raw.quarantine order by _source_file, _line"
    ).fetchall()


@pytest.mark.parametrize(
    ("line", "reason", "detail_part"),
    [
        ('{"payment_id": "p2", broken', "malformed_json", "not valid JSON"),
        ("[1, 2, 3]", "malformed_json", "not an object"),
        (json.dumps(payment(kind="chargeback")), "unknown_enum", "kind: unknown value chargeback"),
        (json.dumps(payment(amount_minor=0)), "non_positive_amount", "amount_minor: 0 is below 1"),
        (json.dumps(payment(amount_minor=-5)), "non_positive_amount", "amount_minor: -5"),
        (json.dumps(payment(amount_minor="12.50")), "invalid_integer", "not an integer: 12.50"),
        (json.dumps(payment(currency="XXY")), "unknown_currency", "not an ISO-4217 code: XXY"),
        (json.dumps(payment(payment_id=None)), "missing_key", "payment_id: is missing"),
        (json.dumps(payment(payment_id="  ")), "missing_key", "payment_id: is missing"),
        (json.dumps(payment(checkout_id=None)), "missing_value", "checkout_id: is missing"),
        (json.dumps(payment(created_at="yesterday")), "unparseable_timestamp", "yesterday"),
        (json.dumps(payment(amount_minor={"value": 1})), "nested_value", "amount_minor"),
    ],
)
def test_each_bad_row_is_quarantined_with_its_reason(tmp_path, con, line, reason, detail_part):
    good = json.dumps(payment(payment_id="p_ok"))
    write_jsonl(tmp_path, "payments", DAY, [good, line])
    report = ingest_source(con, SOURCES["payments"], tmp_path, DAY, lookback_days=0)
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (2, 1, 1)
    [(line_no, got_reason, detail)] = quarantine(con)
    assert (line_no, got_reason) == (2, reason)
    assert detail_part in detail
    raw_text = con.execute("select raw_text from raw.quarantine").fetchone()[0]
    assert raw_text == line  # the raw text is kept for whoever fixes the export


def test_invalid_utf8_line_is_quarantined(tmp_path, con):
    path = write_jsonl(tmp_path, "payments", DAY, [json.dumps(payment())])
    path.write_bytes(path.read_bytes() + b'{"payment_id": "p\xff\xfe"}\n')
    report = ingest_source(con, SOURCES["payments"], tmp_path, DAY, lookback_days=0)
    assert report.rows_loaded == 1
    assert quarantine(con)[0][:2] == (2, "invalid_encoding")


def test_values_are_normalised_typed_and_extras_kept(tmp_path, con):
    rows = [
        json.dumps(payment(created_at="2026-01-02T10:00:00+02:00", extra_field="kept")),
        json.dumps(payment(payment_id="p2", amount_minor="250", created_at="2026-01-02 09:00:00")),
    ]
    write_jsonl(tmp_path, "payments", DAY, rows)
    ingest_source(con, SOURCES["payments"], tmp_path, DAY, lookback_days=0)
    got = con.execute(
        "select payment_id, amount_minor, created_at, _extra, _line, _landing_date "
        "from raw.payments order by payment_id"
    ).fetchall()
    assert got == [
        ("p1", 1000, datetime(2026, 1, 2, 8, 0), '{"extra_field": "kept"}', 1, DAY),
        ("p2", 250, datetime(2026, 1, 2, 9, 0), None, 2, DAY),
    ]


def test_csv_rows_carry_line_numbers_and_ragged_rows_are_quarantined(tmp_path, con):
    folder = tmp_path / "inventory_moves" / DAY.isoformat()
    folder.mkdir(parents=True)
    header = "move_id,checkout_id,idempotency_key,reservation_id,sku,quantity,kind,created_at"
    (folder / "moves.csv").write_text(
        "\n".join(
            [
                header,
                "m1,c1,c1:inventory.reserve,r1,SKU-1,2,reserve,2026-01-02T10:00:00Z",
                "m2,c1,c1:inventory.commit,r1,SKU-1,2,commit",
                "m3,c1,c1:inventory.reserve,r2,SKU-2,-1,reserve,2026-01-02T10:00:00Z",
                '"m4",c1,c1:inventory.release,r1,"SKU, with comma",2,release,2026-01-02T11:00:00Z',
            ]
        )
        + "\n"
    )
    report = ingest_source(con, SOURCES["inventory_moves"], tmp_path, DAY, lookback_days=0)
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (4, 2, 2)
    assert [(line, reason) for line, reason, _ in quarantine(con)] == [
        (3, "malformed_csv_row"),
        (4, "non_positive_amount"),
    ]
    loaded = con.execute(
        "select move_id, sku, _line from raw.inventory_moves order by 1"
    ).fetchall()
    assert loaded == [("m1", "SKU-1", 2), ("m4", "SKU, with comma", 5)]


def test_parquet_with_native_timestamps_and_row_numbers(tmp_path, con):
    folder = tmp_path / "fulfillments" / DAY.isoformat()
    folder.mkdir(parents=True)
    frame = pl.DataFrame(
        {
            "fulfillment_id": ["f1", "f2", None],
            "checkout_id": ["c1", "c2", "c3"],
            "order_id": ["o1", "o2", "o3"],
            "status": ["requested", "lost", "shipped"],
            "created_at": [datetime(2026, 1, 2, 10)] * 3,
            "updated_at": [datetime(2026, 1, 2, 11)] * 3,
            "carrier": ["dhl", "ups", "dhl"],
        }
    )
    frame.write_parquet(folder / "f.parquet")
    report = ingest_source(con, SOURCES["fulfillments"], tmp_path, DAY, lookback_days=0)
    assert (report.rows_loaded, report.rows_quarantined) == (1, 2)
    assert [(line, reason) for line, reason, _ in quarantine(con)] == [
        (2, "unknown_enum"),
        (3, "missing_key"),
    ]
    assert con.execute("select _line, _extra from raw.fulfillments").fetchall() == [
        (1, '{"carrier":"dhl"}')
    ]


def test_missing_required_column_fails_naming_file_and_column_and_changes_nothing(tmp_path, con):
    write_jsonl(tmp_path, "payments", DAY, [json.dumps(payment())])
    ingest_source(con, SOURCES["payments"], tmp_path, DAY, lookback_days=0)
    before = con.execute("select * from raw.payments").fetchall()

    # A second file arrives whose export dropped the amount column.
    bad = payment(payment_id="p9")
    del bad["amount_minor"]
    bad_path = write_jsonl(tmp_path, "payments", DAY, [json.dumps(bad)], name="zz_bad.jsonl")
    with pytest.raises(MissingColumnsError) as caught:
        ingest_source(con, SOURCES["payments"], tmp_path, DAY, lookback_days=0)
    assert str(bad_path) in str(caught.value) and "amount_minor" in str(caught.value)
    assert con.execute("select * from raw.payments").fetchall() == before
    assert con.execute("select count(*) from meta.ingested_files").fetchone()[0] == 1


def test_csv_with_wrong_delimiter_fails_as_missing_columns(tmp_path, con):
    folder = tmp_path / "inventory_moves" / DAY.isoformat()
    folder.mkdir(parents=True)
    (folder / "semicolons.csv").write_text("move_id;checkout_id;sku\nm1;c1;SKU\n")
    with pytest.raises(MissingColumnsError, match=r"semicolons\.csv: missing required column"):
        ingest_source(con, SOURCES["inventory_moves"], tmp_path, DAY, lookback_days=0)


def test_truncated_parquet_fails_with_a_clear_error(tmp_path, con):
    folder = tmp_path / "orders" / DAY.isoformat()
    folder.mkdir(parents=True)
    (folder / "cut.parquet").write_bytes(b"PAR1 this is not a whole parquet file")
    with pytest.raises(UnreadableFileError, match=r"cut\.parquet: cannot read as Parquet"):
        ingest_source(con, SOURCES["orders"], tmp_path, DAY, lookback_days=0)


def test_rerun_replaces_the_partition_and_window_includes_neighbour_days(tmp_path, con):
    write_jsonl(tmp_path, "payments", DAY, [json.dumps(payment())])
    write_jsonl(tmp_path, "payments", date(2026, 1, 4), [json.dumps(payment(payment_id="late"))])
    write_jsonl(tmp_path, "payments", date(2026, 1, 9), [json.dumps(payment(payment_id="far"))])
    for _ in range(2):
        report = ingest_source(con, SOURCES["payments"], tmp_path, DAY, lookback_days=3)
    assert report.rows_loaded == 2
    ids = con.execute("select payment_id from raw.payments order by 1").fetchall()
    assert ids == [("late",), ("p1",)]
    ledger = con.execute(
        "select rows_read, rows_loaded, rows_quarantined from meta.ingested_files"
    ).fetchall()
    assert all(read == loaded + quarantined for read, loaded, quarantined in ledger)
    assert len(ledger) == 2


def test_ddl_matches_the_contract():
    con = duckdb.connect()
    con.execute(sql.ddl("schemas"))
    for name, source in SOURCES.items():
        con.execute(sql.ddl(f"raw_{name}"))
        columns = [r[0] for r in con.execute(f"describe raw.{name}").fetchall()]
        contract = [c for c in columns if not c.startswith("_")]
        assert contract == list(source.column_names), name


SETTLEMENT_COLUMNS = SOURCES["settlements"].column_names


def settlement_lines() -> list[tuple]:
    """Lines of one payout in contract column order: a charge, a refund, a chargeback with its
    fee, the provider's own fee line (no payment), and one whose net is not gross - fee."""
    at = "2026-01-02T03:00:00Z"
    return [
        ("sl_1", "po_1", "psp_1", "charge", 2500, 60, 2440, "EUR", at),
        ("sl_2", "po_1", "psp_2", "refund", -500, 0, -500, "EUR", at),
        ("sl_3", "po_1", "psp_3", "chargeback", -2500, 1500, -4000, "EUR", at),
        ("sl_4", "po_1", None, "fee", 0, 100, -100, "EUR", at),
        ("sl_5", "po_1", "psp_5", "charge", 1000, 39, 1000, "EUR", at),
    ]


def test_a_settlement_line_whose_net_is_not_gross_less_fee_is_quarantined_from_csv(tmp_path, con):
    folder = tmp_path / "settlements" / DAY.isoformat()
    folder.mkdir(parents=True)
    rows = [
        *settlement_lines(),
        # an amount that is no integer is that, not an inconsistency
        ("sl_6", "po_1", "psp_6", "charge", "12.5", 0, 12, "EUR", "2026-01-02T03:00:00Z"),
    ]
    lines = [",".join(SETTLEMENT_COLUMNS)] + [
        ",".join("" if value is None else str(value) for value in row) for row in rows
    ]
    (folder / "report.csv").write_text("\n".join(lines) + "\n")
    report = ingest_source(con, SOURCES["settlements"], tmp_path, DAY, lookback_days=0)
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (6, 4, 2)
    assert quarantine(con) == [
        (6, "inconsistent_value", "column net_minor: 1000 is not gross_minor - fee_minor"),
        (7, "invalid_integer", "column gross_minor: not an integer: 12.5"),
    ]
    loaded = con.execute(
        "select settlement_line_id, gross_minor, fee_minor, net_minor from raw.settlements "
        "order by 1"
    ).fetchall()
    assert loaded == [
        ("sl_1", 2500, 60, 2440),
        ("sl_2", -500, 0, -500),
        ("sl_3", -2500, 1500, -4000),
        ("sl_4", 0, 100, -100),
    ]


def write_settlements_parquet(landing: Path) -> Path:
    """settlement_lines() as Parquet storing the amounts as integers and settled_at as a
    timestamp: the native path of validation, not the text one."""
    folder = landing / "settlements" / DAY.isoformat()
    folder.mkdir(parents=True)
    rows = settlement_lines()
    frame = pl.DataFrame(
        {name: [row[i] for row in rows] for i, name in enumerate(SETTLEMENT_COLUMNS)}
    ).with_columns(
        pl.col("settled_at").str.to_datetime(time_zone="UTC"),
        pl.col("gross_minor", "fee_minor", "net_minor").cast(pl.Int64),
    )
    path = folder / "report.parquet"
    frame.write_parquet(path)
    types = {name: kind for name, kind, *_ in duckdb.sql(f"describe from '{path}'").fetchall()}
    assert types["net_minor"] == types["gross_minor"] == "BIGINT"  # stored natively
    return path


def assert_only_the_inconsistent_line_is_quarantined(con, report) -> None:
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (5, 4, 1)
    assert quarantine(con) == [
        (5, "inconsistent_value", "column net_minor: 1000 is not gross_minor - fee_minor")
    ]
    loaded = con.execute(
        "select settlement_line_id, psp_reference, net_minor from raw.settlements order by 1"
    ).fetchall()
    assert loaded == [
        ("sl_1", "psp_1", 2440),
        ("sl_2", "psp_2", -500),
        ("sl_3", "psp_3", -4000),
        ("sl_4", None, -100),
    ]


def test_a_settlement_line_whose_net_is_not_gross_less_fee_is_quarantined_from_parquet(
    tmp_path, con
):
    write_settlements_parquet(tmp_path)
    report = ingest_source(
        con, SOURCES["settlements"], tmp_path, DAY, lookback_days=0, read_in_place=False
    )
    assert_only_the_inconsistent_line_is_quarantined(con, report)


def test_a_parquet_file_with_an_inconsistent_line_is_not_read_in_place(tmp_path, con):
    write_settlements_parquet(tmp_path)
    # read_in_place on, as by default
    report = ingest_source(con, SOURCES["settlements"], tmp_path, DAY, lookback_days=0)
    assert_only_the_inconsistent_line_is_quarantined(con, report)
