"""Finding the landing files a partition reads: `<landing>/<source>/<YYYY-MM-DD>/*.<format>`."""

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

FORMATS = {".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


@dataclass(frozen=True)
class LandingFile:
    source: str
    landing_date: date
    path: Path
    # Where the rows really come from when `path` is a temporary snapshot (a service database).
    origin: str | None = None

    @property
    def format(self) -> str:
        return FORMATS[self.path.suffix.lower()]

    @property
    def label(self) -> str:
        """What the warehouse records as the rows' file: the path, or the snapshot's origin."""
        return self.origin or str(self.path)

    @property
    def name(self) -> str:
        return self.origin or self.path.name


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


def files_for(landing: Path, source: str, dates: list[date]) -> list[LandingFile]:
    """The contract files of `source` for `dates`, in a stable order (date, then name)."""
    found = []
    for day in dates:
        folder = landing / source / day.isoformat()
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower() in FORMATS and not path.name.startswith("."):
                found.append(LandingFile(source, day, path))
    return found


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
            files = [p for p in sorted(folder.iterdir()) if p.suffix.lower() in FORMATS]
            if files:
                dates.setdefault(day, []).extend(files)
    return dates
