"""Hostile landing files: the run quarantines or fails the source clearly, never executes data,
and leaves the warehouse consistent."""

import json
from datetime import date

import pytest

from recon.contract import SOURCES
from recon.ingest import ingest_source
from recon.readers import MissingColumnsError, UnreadableFileError, read_csv, read_jsonl
from recon.warehouse import connect
from tests.recon.test_ingest import payment, write_jsonl

DAY = date(2026, 1, 2)
SQL_LOOKING = (
    "'; drop table raw.payments; --",
    '") or 1=1 --',
    "Robert'); delete from raw.quarantine where ('1'='1",
    "$day",
    "{date}",
)


@pytest.fixture
def con(tmp_path):
    with connect(tmp_path / "warehouse.duckdb") as connection:
        yield connection


@pytest.mark.parametrize("text", SQL_LOOKING)
def test_sql_looking_strings_in_every_text_column_are_just_data(tmp_path, con, text):
    row = payment(
        payment_id=text,
        checkout_id=text,
        idempotency_key=text,
        psp_reference=text,
        failure_code=text,
    )
    bad = payment(payment_id=f"{text}-2", kind=text)  # an enum column: quarantined, not run
    write_jsonl(tmp_path, "payments", DAY, [json.dumps(row), json.dumps(bad)])
    report = ingest_source(con, SOURCES["payments"], tmp_path, DAY, lookback_days=0)
    assert (report.rows_loaded, report.rows_quarantined) == (1, 1)
    stored = con.execute("select payment_id, checkout_id, psp_reference from raw.payments")
    assert stored.fetchall() == [(text, text, text)]
    [(reason, raw_text)] = con.execute("select reason, raw_text from raw.quarantine").fetchall()
    assert reason == "unknown_enum" and json.loads(raw_text)["kind"] == text


def test_empty_files_of_every_format_load_nothing_and_fail_nothing(tmp_path, con):
    folder = tmp_path / "payments" / DAY.isoformat()
    folder.mkdir(parents=True)
    (folder / "empty.jsonl").write_text("")
    (folder / "blank_lines.jsonl").write_text("\n\n  \n")
    (folder / "empty.csv").write_text("")
    report = ingest_source(con, SOURCES["payments"], tmp_path, DAY, lookback_days=0)
    assert report.rows_read == report.rows_loaded == report.rows_quarantined == 0
    assert len(report.files) == 3


def test_csv_in_another_encoding_is_quarantined_line_by_line(tmp_path, con):
    folder = tmp_path / "inventory_moves" / DAY.isoformat()
    folder.mkdir(parents=True)
    header = "move_id,checkout_id,idempotency_key,reservation_id,sku,quantity,kind,created_at\n"
    good = "m1,c1,c1:inventory.reserve,r1,SKU,1,reserve,2026-01-02T10:00:00Z\n"
    latin1 = "m2,c1,c1:inventory.reserve,r2,CAFÉ,1,reserve,2026-01-02T10:00:00Z\n"
    (folder / "moves.csv").write_bytes((header + good).encode() + latin1.encode("latin-1"))
    report = ingest_source(con, SOURCES["inventory_moves"], tmp_path, DAY, lookback_days=0)
    assert (report.rows_loaded, report.rows_quarantined) == (1, 1)
    assert con.execute("select reason, _line from raw.quarantine").fetchall() == [
        ("invalid_encoding", 3)
    ]


def test_json_nested_where_a_scalar_belongs_is_quarantined(tmp_path, con):
    nested = payment(checkout_id={"id": "c1", "extra": [1, 2]})
    write_jsonl(
        tmp_path, "payments", DAY, [json.dumps(nested), json.dumps(payment(payment_id="ok"))]
    )
    report = ingest_source(con, SOURCES["payments"], tmp_path, DAY, lookback_days=0)
    assert (report.rows_loaded, report.rows_quarantined) == (1, 1)
    assert con.execute("select reason from raw.quarantine").fetchall() == [("nested_value",)]


def test_a_header_only_csv_with_wrong_columns_fails_naming_them(tmp_path, con):
    folder = tmp_path / "fulfillments" / DAY.isoformat()
    folder.mkdir(parents=True)
    (folder / "f.csv").write_text("id,what\n")
    with pytest.raises(MissingColumnsError, match="fulfillment_id, checkout_id, order_id"):
        ingest_source(con, SOURCES["fulfillments"], tmp_path, DAY, lookback_days=0)
    assert con.execute("select count(*) from meta.ingested_files").fetchone()[0] == 0


MOVES_HEADER = "move_id,checkout_id,idempotency_key,reservation_id,sku,quantity,kind,created_at\n"
MOVE = "m1,c1,c1:inventory.reserve,r1,SKU,1,reserve,2026-01-02T10:00:00Z\n"


def test_a_huge_value_is_quarantined_whole_in_either_text_format(tmp_path, con):
    """A value far wider than any ID or URL (a payload smuggled into a field) goes to the
    quarantine with its whole row, from JSON-lines and from CSV alike (where the csv module's
    128 KiB field limit used to drop the row's text)."""
    huge = "c" * 3_000_000
    write_jsonl(
        tmp_path, "payments", DAY, [json.dumps(payment(checkout_id=huge)), json.dumps(payment())]
    )
    report = ingest_source(con, SOURCES["payments"], tmp_path, DAY, lookback_days=0)
    assert (report.rows_loaded, report.rows_quarantined) == (1, 1)
    [(reason, detail, raw_text)] = con.execute(
        "select reason, detail, raw_text from raw.quarantine"
    ).fetchall()
    assert reason == "value_too_long"
    assert detail == "column checkout_id: 3000000 bytes, above the limit of 2048"
    assert json.loads(raw_text)["checkout_id"] == huge

    folder = tmp_path / "inventory_moves" / DAY.isoformat()
    folder.mkdir(parents=True)
    wide = MOVE.replace("r1,SKU", "r2," + "S" * 300_000)
    (folder / "moves.csv").write_text(MOVES_HEADER + MOVE + wide)
    report = ingest_source(con, SOURCES["inventory_moves"], tmp_path, DAY, lookback_days=0)
    assert (report.rows_loaded, report.rows_quarantined) == (1, 1)
    [(reason, raw_text)] = con.execute(
        "select reason, raw_text from raw.quarantine where _source_file like '%moves.csv'"
    ).fetchall()
    assert (reason, raw_text) == ("value_too_long", wide.rstrip("\n"))


@pytest.mark.parametrize("reader", [read_jsonl, read_csv])
def test_a_text_file_too_big_to_parse_in_memory_fails_its_source_clearly(tmp_path, reader):
    path = tmp_path / "big.txt"
    path.write_text(MOVES_HEADER + MOVE * 100)
    with pytest.raises(UnreadableFileError, match=r"big\.txt: .* MiB of text, above .*Parquet"):
        reader(path, SOURCES["inventory_moves"], max_bytes=1000)
