"""Finding the landing files a partition reads: `<landing>/<source>/<YYYY-MM-DD>/*.<format>`,
CSV and JSON-lines files optionally compressed (`.csv.gz`, `.jsonl.zst`)."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

FORMATS = {".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
# Text exports often arrive compressed; the readers decompress them as they read. Parquet is
# compressed inside the file, so a compressed Parquet file is not a kind the pipeline reads.
COMPRESSIONS = {".gz": "gzip", ".zst": "zstd"}
TEXT_FORMATS = ("csv", "jsonl")
ACCEPTED = (
    ".parquet, .csv, .jsonl or .ndjson; CSV and JSON-lines files may also be compressed "
    "(.csv.gz, .jsonl.zst, ...)"
)


def landing_kind(path: Path) -> tuple[str, str | None] | None:
    """The (format, compression) the file's name says, or None for a file of no accepted kind."""
    last = path.suffix.lower()
    if last in FORMATS:
        return FORMATS[last], None
    inner = FORMATS.get(Path(path.stem).suffix.lower())
    if last in COMPRESSIONS and inner in TEXT_FORMATS:
        return inner, COMPRESSIONS[last]
    return None


def _is_landing_file(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and landing_kind(path) is not None


def _is_marker(path: Path) -> bool:
    """Hidden files and writers' markers (`_SUCCESS`, `_committed_...`), which Spark and Hadoop
    skip as well: no one expects them to be read, so they deserve no warning."""
    return path.name.startswith((".", "_"))


@dataclass(frozen=True)
class LandingFile:
    source: str
    landing_date: date
    path: Path
    # Where the rows really come from when `path` is a temporary snapshot (a service database).
    origin: str | None = None

    @property
    def format(self) -> str:
        return self._kind[0]

    @property
    def compression(self) -> str | None:
        return self._kind[1]

    @property
    def _kind(self) -> tuple[str, str | None]:
        kind = landing_kind(self.path)
        if kind is None:
            raise ValueError(f"{self.path}: not a landing file (accepted: {ACCEPTED})")
        return kind

    @property
    def label(self) -> str:
        """What the warehouse records as the rows' file: the path, or the snapshot's origin."""
        return self.origin or str(self.path)

    @property
    def name(self) -> str:
        return self.origin or self.path.name


@dataclass(frozen=True)
class UnrecognisedFile:
    """A file (or folder) in a source's date folder that is read as nothing."""

    source: str
    landing_date: date
    path: Path

    @property
    def shown(self) -> str:
        return f"{self.path}/" if self.path.is_dir() else str(self.path)


def window(business_date: date, lookback_days: int) -> list[date]:
    """The landing dates read to reconcile `business_date`.

    Later days bring late captures, refunds and cancellations. Earlier days are read too so that a
    checkout begun the day before (whose capture lands today) is recognised as yesterday's and not
    reported as a payment without an order today.
    """
    return [
        business_date + timedelta(days=offset)
        for offset in range(-lookback_days, lookback_days + 1)
    ]


def _folder_entries(landing: Path, source: str, dates: list[date]) -> Iterator[tuple[date, Path]]:
    for day in dates:
        folder = landing / source / day.isoformat()
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                yield day, path


def files_for(landing: Path, source: str, dates: list[date]) -> list[LandingFile]:
    """The contract files of `source` for `dates`, in a stable order (date, then name)."""
    return [
        LandingFile(source, day, path)
        for day, path in _folder_entries(landing, source, dates)
        if _is_landing_file(path)
    ]


def unrecognised_files(landing: Path, source: str, dates: list[date]) -> list[UnrecognisedFile]:
    """What the date folders hold besides contract files and markers: an export saved as
    `.xlsx` or `.txt` would otherwise pass for a day without rows."""
    return [
        UnrecognisedFile(source, day, path)
        for day, path in _folder_entries(landing, source, dates)
        if not _is_landing_file(path) and not _is_marker(path)
    ]


def unrecognised_warning(source: str, files: list[UnrecognisedFile]) -> str:
    names = ", ".join(f.shown for f in files)
    return f"{source}: not read, of no accepted kind: {names} (accepted: {ACCEPTED})"


def landing_dates(landing: Path, sources: list[str]) -> dict[date, list[Path]]:
    """Every date folder holding at least one contract file, with those files (for the sensor)."""
    dates: dict[date, list[Path]] = {}
    for source in sources:
        root = landing / source
        if not root.is_dir():
            continue
        for folder in root.iterdir():
            try:
                day = date.fromisoformat(folder.name)
            except ValueError:
                continue
            files = [p for p in sorted(folder.iterdir()) if _is_landing_file(p)]
            if files:
                dates.setdefault(day, []).extend(files)
    return dates
