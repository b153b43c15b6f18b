"""Mapped rows written as a contract landing file, so a provider's export loads like any other:
`<landing>/<source>/<YYYY-MM-DD>/<adapter>-<file>-00.parquet`, one file per landing date (the UTC
date of the source's landing time), and the rows that did not map in
`<landing>/<source>/_quarantine/<adapter>-<file>.parquet` (not a date folder: ingestion never
reads it)."""

import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from recon.adapters.apply import MappedFile, apply_mapping
from recon.adapters.mapping import Mapping
from recon.landing_writer import WrittenFile, write_rows


@dataclass(frozen=True)
class Conversion:
    mapped: MappedFile
    written: list[WrittenFile]
    quarantine_file: Path | None

    def describe(self) -> str:
        lines = [self.mapped.describe()]
        lines += [f"  wrote {f.rows} row(s) to {f.path}" for f in self.written]
        if self.quarantine_file:
            lines.append(
                f"  wrote {self.mapped.quarantine.num_rows} quarantined row(s) with reasons to "
                f"{self.quarantine_file}"
            )
        return "\n".join(lines)


def file_stem(path: Path) -> str:
    """A file-name-safe stem: `orders_export_1.csv.gz` -> `orders_export_1`."""
    stem = path.name.split(".")[0] or "export"
    return re.sub(r"[^A-Za-z0-9_-]+", "_", stem)


def convert_file(mapping: Mapping, path: Path, landing: Path) -> Conversion:
    """Write the file's mapped rows into `landing`. The names are derived from the adapter and
    the input file, so converting the same export again replaces its files instead of adding a
    second copy of every row."""
    mapped = apply_mapping(mapping, path)
    name = f"{mapping.name}-{file_stem(path)}"
    written = write_rows(
        landing,
        {mapping.target: mapped.rows.to_pylist()},
        formats={mapping.target: "parquet"},
        parts={},
        name=name,
    )
    quarantine_file = landing / mapping.target / "_quarantine" / f"{name}.parquet"
    if mapped.quarantine.num_rows:
        quarantine_file.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(mapped.quarantine, quarantine_file)
    else:
        quarantine_file.unlink(missing_ok=True)
        quarantine_file = None
    return Conversion(mapped, written, quarantine_file)
