"""A landing day whose text exports arrive compressed is reconciled exactly as the plain day: the
same findings, the same quarantined lines, and lineage naming the compressed files."""

import gzip
import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa

from recon.ingest import IngestReport
from recon.reconcile import discrepancies, reconcile_partition
from recon.warehouse import connect
from testdata.synthetic import MIN_CHECKOUTS, generate_landing

DAY = date(2026, 1, 2)
# The generator writes payments and analytics events as JSON lines, inventory moves as CSV.
COMPRESSION = {"payments": "zstd", "analytics_events": "gzip", "inventory_moves": "gzip"}
SUFFIX = {"gzip": ".gz", "zstd": ".zst"}


def _compress(path: Path, compression: str) -> Path:
    packed = path.with_name(path.name + SUFFIX[compression])
    if compression == "gzip":
        packed.write_bytes(gzip.compress(path.read_bytes()))
    else:
        with pa.output_stream(str(packed), compression="zstd") as stream:
            stream.write(path.read_bytes())
    path.unlink()
    return packed


def _compressed_copy(plain: Path, packed: Path) -> list[Path]:
    shutil.copytree(plain, packed)
    return [
        _compress(path, COMPRESSION[source])
        for source in COMPRESSION
        for path in sorted((packed / source).glob("*/*.*"))
    ]


def _quarantine(con) -> list[tuple]:
    return con.execute("select _source_file, _line, reason from raw.quarantine").fetchall()


def _packed_name(file: str, plain: Path, packed: Path) -> str:
    """Where a plain day's file sits in the compressed copy."""
    relative = Path(file).relative_to(plain)
    compression = COMPRESSION.get(relative.parts[0])
    return str(packed / relative) + (SUFFIX[compression] if compression else "")


def _counts(report: IngestReport) -> list[tuple[int, int, int]]:
    return [(f.rows_read, f.rows_loaded, f.rows_quarantined) for f in report.files]


def test_a_compressed_day_gives_the_findings_of_the_plain_day(tmp_path):
    plain, packed = tmp_path / "plain", tmp_path / "packed"
    generate_landing(plain, DAY, checkouts=MIN_CHECKOUTS, seed=3)
    compressed = _compressed_copy(plain, packed)
    assert {"".join(p.suffixes[-2:]) for p in compressed} == {".csv.gz", ".jsonl.gz", ".jsonl.zst"}

    with connect(tmp_path / "plain.duckdb") as con:
        plain_reports = reconcile_partition(con, plain, DAY)
        plain_found, plain_held = discrepancies(con, DAY), _quarantine(con)
    with connect(tmp_path / "packed.duckdb") as con:
        packed_reports = reconcile_partition(con, packed, DAY)
        packed_found, packed_held = discrepancies(con, DAY), _quarantine(con)
        lineage = {
            row[0]
            for source in COMPRESSION
            for row in con.execute(f"select distinct _source_file from raw.{source}").fetchall()
        }

    assert packed_found == plain_found != []
    # The same lines quarantined for the same reasons, each naming its compressed file.
    expected = [(_packed_name(file, plain, packed), *rest) for file, *rest in plain_held]
    assert sorted(packed_held) == sorted(expected) != []
    assert any(file.endswith((".gz", ".zst")) for file, *_ in packed_held)
    assert lineage == {str(p) for p in compressed}
    for source in COMPRESSION:
        assert [f.file for f in packed_reports[source].files] == [
            str(p) for p in compressed if p.parts[-3] == source
        ]
        assert _counts(packed_reports[source]) == _counts(plain_reports[source])
        assert packed_reports[source].unrecognised == []
