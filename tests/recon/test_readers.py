"""The text readers: compressed files read like plain ones, and a file in another encoding than
UTF-8 fails its source with an error naming the file and the encoding."""

import gzip
import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from recon.contract import SOURCES
from recon.ingest import ingest_source
from recon.readers import NotUtf8Error, UnreadableFileError, read_csv, read_jsonl
from recon.warehouse import connect
from tests.recon.test_ingest import payment

DAY = date(2026, 1, 2)
MOVES = SOURCES["inventory_moves"]
HEADER = "move_id,checkout_id,idempotency_key,reservation_id,sku,quantity,kind,created_at\n"
MOVE = "m{n},c1,c1:inventory.reserve,r{n},SKU,1,reserve,2026-01-02T10:00:00Z\n"
RAGGED = "m9,c1,c1:inventory.commit,r1,SKU,1,commit\n"


@pytest.fixture
def con(tmp_path):
    with connect(tmp_path / "warehouse.duckdb") as connection:
        yield connection


def compress(data: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(data)
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as stream:
        stream.write(data)
    return sink.getvalue().to_pybytes()


def land(landing: Path, source: str, name: str, data: bytes) -> Path:
    folder = landing / source / DAY.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def loaded(con) -> dict[str, list[tuple]]:
    queries = {
        "rows": "select _source_file, _line, move_id from raw.inventory_moves order by all",
        "quarantine": "select _source_file, _line, reason from raw.quarantine order by all",
        "ledger": "select _source_file, file_format, rows_read from meta.ingested_files",
    }
    return {name: con.execute(query).fetchall() for name, query in queries.items()}


@pytest.mark.parametrize(("suffix", "compression"), [(".gz", "gzip"), (".zst", "zstd")])
def test_a_compressed_csv_loads_and_quarantines_as_the_plain_one(
    tmp_path, con, suffix, compression
):
    text = (HEADER + MOVE.format(n=1) + RAGGED + MOVE.format(n=2)).encode()
    plain = land(tmp_path / "plain", "inventory_moves", "moves.csv", text)
    ingest_source(con, MOVES, tmp_path / "plain", DAY, lookback_days=0)
    as_plain = loaded(con)

    packed = land(
        tmp_path / "packed", "inventory_moves", f"moves.csv{suffix}", compress(text, compression)
    )
    ingest_source(con, MOVES, tmp_path / "packed", DAY, lookback_days=0)
    as_packed = loaded(con)

    # The same rows, lines and reasons; lineage names the compressed file itself.
    assert as_plain["quarantine"] == [(str(plain), 3, "malformed_csv_row")]
    for table in ("rows", "quarantine", "ledger"):
        assert [(str(packed), *rest) for _, *rest in as_plain[table]] == as_packed[table]


def test_a_compressed_jsonl_keeps_its_line_numbers(tmp_path, con):
    lines = [json.dumps(payment()), "{broken", "", json.dumps(payment(payment_id="p2", kind="x"))]
    data = compress(("\n".join(lines) + "\n").encode(), "zstd")
    path = land(tmp_path, "payments", "payments.jsonl.zst", data)
    report = ingest_source(con, SOURCES["payments"], tmp_path, DAY, lookback_days=0)
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (3, 1, 2)
    assert con.execute(
        "select _source_file, _line, reason from raw.quarantine order by _line"
    ).fetchall() == [(str(path), 2, "malformed_json"), (str(path), 4, "unknown_enum")]


def test_a_truncated_gzip_fails_its_source_and_changes_nothing(tmp_path, con):
    land(tmp_path, "inventory_moves", "a.csv", (HEADER + MOVE.format(n=1)).encode())
    ingest_source(con, MOVES, tmp_path, DAY, lookback_days=0)
    before = loaded(con)
    data = gzip.compress((HEADER + MOVE.format(n=2) * 500).encode())
    land(tmp_path, "inventory_moves", "b.csv.gz", data[: len(data) // 2])
    with pytest.raises(UnreadableFileError, match=r"b\.csv\.gz: cannot decompress as gzip"):
        ingest_source(con, MOVES, tmp_path, DAY, lookback_days=0)
    assert loaded(con) == before


@pytest.mark.parametrize("reader", [read_csv, read_jsonl])
def test_the_size_cap_applies_to_the_decompressed_text(tmp_path, reader):
    text = (HEADER + MOVE.format(n=1) * 100).encode()
    path = land(tmp_path, "inventory_moves", "big.csv.gz", gzip.compress(text))
    assert path.stat().st_size < 1000 < len(text)
    with pytest.raises(UnreadableFileError, match=r"big\.csv\.gz: decompressed, .*above .*Parquet"):
        reader(path, MOVES, max_bytes=1000)


CSV_TEXT = HEADER + MOVE.format(n=2)


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("utf16.csv", CSV_TEXT.encode("utf-16"), "file is UTF-16 (byte order mark found)"),
        ("utf16be.csv", CSV_TEXT.encode("utf-16-be"), "file looks like UTF-16"),
        ("utf16le.csv", CSV_TEXT.encode("utf-16-le"), "file looks like UTF-16"),
        ("utf32.csv", CSV_TEXT.encode("utf-32"), "file is UTF-32 (byte order mark found)"),
        (
            "latin1.csv",
            CSV_TEXT.replace("move_id", "mouvement_n°").encode("latin-1"),
            "header line is not valid UTF-8",
        ),
        ("utf16.csv.gz", gzip.compress(CSV_TEXT.encode("utf-16")), "file is UTF-16"),
    ],
)
def test_a_csv_not_in_utf8_fails_naming_file_and_encoding_and_changes_nothing(
    tmp_path, con, name, data, problem
):
    land(tmp_path, "inventory_moves", "a.csv", (HEADER + MOVE.format(n=1)).encode())
    ingest_source(con, MOVES, tmp_path, DAY, lookback_days=0)
    before = loaded(con)

    path = land(tmp_path, "inventory_moves", name, data)
    with pytest.raises(NotUtf8Error) as caught:
        ingest_source(con, MOVES, tmp_path, DAY, lookback_days=0)
    message = str(caught.value)
    assert message.startswith(f"{path}: {problem}") and message.endswith("export it as UTF-8")
    assert "missing required column" not in message
    assert loaded(con) == before


def test_a_utf16_jsonl_fails_as_well_instead_of_quarantining_every_line(tmp_path, con):
    text = "\n".join(json.dumps(payment(payment_id=f"p{n}")) for n in range(3)) + "\n"
    path = land(tmp_path, "payments", "p.jsonl", text.encode("utf-16"))
    with pytest.raises(NotUtf8Error, match=rf"^{path}: file is UTF-16 \(byte order mark found\)"):
        ingest_source(con, SOURCES["payments"], tmp_path, DAY, lookback_days=0)


def test_utf8_with_a_byte_order_mark_still_loads(tmp_path, con):
    land(tmp_path, "inventory_moves", "a.csv", CSV_TEXT.encode("utf-8-sig"))
    report = ingest_source(con, MOVES, tmp_path, DAY, lookback_days=0)
    assert (report.rows_loaded, report.rows_quarantined) == (1, 0)
