"""Records looked up by the ID a caller gave: the read, the locked read and the 404, and the
move of a record to another status."""

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, Select, Table, Update, bindparam, select, update
from sqlalchemy.engine import Connection

from checkout_service.problems import ProblemError


def found(
    row: RowMapping | None, noun: str, record_id: str, slug: str | None = None
) -> dict[str, Any]:
    """A record looked up by the ID a caller gave, or the 404 problem of an unknown `noun`
    (typed `{slug}-not-found`, `slug` defaulting to the noun)."""
    if row is None:
        raise ProblemError(
            404, f"{slug or noun}-not-found", f"Unknown {noun}", f"No {noun} {record_id}."
        )
    return dict(row)


class RecordLookup:
    """The records of `table` by their `id_column`, each known to callers as a `noun`.

    The statements are built once, so a request only binds its ID (see
    `checkout_service.orchestrator.store`); the ID is bound as `b_{id_column}`.
    """

    def __init__(
        self,
        table: Table,
        id_column: str,
        noun: str,
        *criteria: ColumnElement[bool],
        slug: str | None = None,
    ) -> None:
        self.table = table
        self.noun = noun
        self.slug = slug
        self.id_column = id_column
        self.param = f"b_{id_column}"
        self.of_id = table.c[id_column] == bindparam(self.param)
        self._read = select(table).where(self.of_id, *criteria)
        # Serialises concurrent changes of one record on PostgreSQL (SQLite's BEGIN IMMEDIATE
        # already does), so two requests cannot both act on the state they read.
        self._read_locked = self._read.with_for_update()
        # Only compiled when `set_status` runs, so tables without `updated_at` (payments,
        # whose records never change status) can be looked up too.
        self._set_status: Update = (
            update(table)
            .where(self.of_id)
            .values(status=bindparam("new_status"), updated_at=bindparam("new_updated_at"))
        )

    def get(self, conn: Connection, record_id: str, *, lock: bool) -> dict[str, Any]:
        """The record, locked for the transaction when `lock`; an unknown ID is a 404."""
        query: Select[Any] = self._read_locked if lock else self._read
        row = conn.execute(query, {self.param: record_id}).mappings().first()
        return found(row, self.noun, record_id, self.slug)

    def set_status(
        self, conn: Connection, record: dict[str, Any], status: str, now: datetime
    ) -> dict[str, Any]:
        """Move `record` (as read by `get`) to `status` as of `now`; the record as it now is."""
        conn.execute(
            self._set_status,
            {self.param: record[self.id_column], "new_status": status, "new_updated_at": now},
        )
        return {**record, "status": status, "updated_at": now}
