"""DuckDB DDL of the raw landing tables and the quarantine table: the data contract as SQL."""

from importlib import resources


def ddl(name: str) -> str:
    """The text of `sql/<name>.sql`."""
    return resources.files(__name__).joinpath(f"{name}.sql").read_text(encoding="utf-8")
