"""Which files of a landing folder are read, and which are named as read as nothing."""

from datetime import date
from pathlib import Path

import pytest

from recon.landing import files_for, landing_dates, landing_kind, unrecognised_files

DAY = date(2026, 1, 2)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("export.parquet", ("parquet", None)),
        ("export.CSV", ("csv", None)),
        ("export.ndjson", ("jsonl", None)),
        ("export.csv.gz", ("csv", "gzip")),
        ("export.JSONL.GZ", ("jsonl", "gzip")),
        ("export.jsonl.zst", ("jsonl", "zstd")),
        ("export.2026.01.02.csv.zst", ("csv", "zstd")),
        ("export.parquet.gz", None),  # Parquet compresses inside the file
        ("export.gz", None),
        ("export.txt.gz", None),
        ("orders.xlsx", None),
        ("notes.txt", None),
    ],
)
def test_the_kind_of_a_file_is_read_from_its_name(name, kind):
    assert landing_kind(Path(name)) == kind


def _folder(landing: Path, names: list[str]) -> Path:
    folder = landing / "payments" / DAY.isoformat()
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_bytes(b"")
    return folder


def test_unknown_files_are_named_and_markers_and_hidden_files_are_not(tmp_path):
    folder = _folder(
        tmp_path,
        ["a.csv.gz", "b.jsonl", "notes.txt", "orders.xlsx", "_SUCCESS", ".b.jsonl.crc", ".c.csv"],
    )
    (folder / "part-0000").mkdir()  # a folder inside the day's folder: its files are not read
    (tmp_path / "_ground_truth.parquet").write_bytes(b"")  # the generators' file, at the root

    read = [f.path.name for f in files_for(tmp_path, "payments", [DAY])]
    unread = unrecognised_files(tmp_path, "payments", [DAY])
    assert read == ["a.csv.gz", "b.jsonl"]
    assert [(f.path.name, f.shown.endswith("/")) for f in unread] == [
        ("notes.txt", False),
        ("orders.xlsx", False),
        ("part-0000", True),
    ]
    assert {(f.source, f.landing_date) for f in unread} == {("payments", DAY)}


def test_the_sensor_sees_compressed_files_and_not_unknown_ones(tmp_path):
    _folder(tmp_path, ["a.jsonl.zst", "notes.txt"])
    other = date(2026, 1, 3)
    (tmp_path / "payments" / other.isoformat()).mkdir()
    (tmp_path / "payments" / other.isoformat() / "orders.xlsx").write_bytes(b"")
    found = landing_dates(tmp_path, ["payments"])
    assert {day: [p.name for p in files] for day, files in found.items()} == {DAY: ["a.jsonl.zst"]}
