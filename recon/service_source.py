"""The second source mode: the services' own databases instead of landing files.

Orders, payments, inventory moves and fulfillments are read from the reference service's
databases through SQLAlchemy (the exporters of `checkout_service.export`, the same queries
`recon simulate` exports with), then go through exactly the ingestion path of landing files:
each landing date's rows become one native Parquet snapshot, validated and quarantined like any
file, so both modes give the same rows and the same discrepancies. Analytics events come from
browsers, not from a service database, so they are always read from landing files.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy.exc import SQLAlchemyError

from checkout_service.db import DatabaseSettings, create_service_engine, service_url
from checkout_service.export import EXPORTERS, SERVICE_OF_SOURCE
from recon.contract import SOURCES
from recon.landing import LandingFile
from recon.landing_writer import write_rows

SERVICE_SOURCES = frozenset(SERVICE_OF_SOURCE)


class ServiceDatabaseError(RuntimeError):
    """A service database could not be read; the source fails, the warehouse is unchanged."""


@contextmanager
def service_snapshot(
    databases: DatabaseSettings, source: str, dates: list[date]
) -> Iterator[list[LandingFile]]:
    """Parquet snapshots of `source`'s rows landing on `dates`, one per date, as landing files
    whose `origin` names the database they came from; removed on exit."""
    service = SERVICE_OF_SOURCE[source]
    url = service_url(service, databases)
    where = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        # Opening it would create an empty database and report a day without a single row.
        raise ServiceDatabaseError(f"{source}: no {service} service database at {url.database}")
    engine = create_service_engine(service, databases)
    try:
        rows = EXPORTERS[source](engine)
    except SQLAlchemyError as error:
        raise ServiceDatabaseError(
            f"{source}: cannot read the {service} service's database at {where}: {error}"
        ) from error
    finally:
        engine.dispose()
    wanted = set(dates)
    column = SOURCES[source].landing_time
    rows = [row for row in rows if _landing_date(row, column) in wanted]
    with TemporaryDirectory(prefix=f"recon-{source}-") as tmp:
        written = write_rows(Path(tmp), {source: rows}, {source: "parquet"}, parts={})
        yield [
            LandingFile(
                source,
                file.landing_date,
                file.path,
                origin=f"{where}#{source}@{file.landing_date}",
            )
            for file in sorted(written, key=lambda f: (f.landing_date, f.path))
        ]


def _landing_date(row: dict, column: str) -> date:
    return row[column].date()
