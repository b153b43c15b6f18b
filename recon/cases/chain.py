"""The hash chain over `cases.events`: how an event is hashed, and `verify`, which walks the log.

hash = sha256 hex of prev_hash followed by the canonical JSON of every other column of the event
(keys sorted, no spaces, ASCII only with \\uXXXX escapes as `json.dumps(ensure_ascii=True)`
writes them, numbers and nulls as it prints them, timestamps in UTC as
2026-02-11T06:00:00.000000Z). Each event names the hash of the one before it, so editing,
deleting or reordering an event breaks the chain from there on. The first event follows GENESIS.

The canonical JSON has two spellings of one definition: `canonical_sql`, which the writer runs in
DuckDB over a whole batch of events at once (a first sync appends a day's worth), and
`canonical`, in Python, which `verify` uses, so that checking the log does not trust the code that
wrote it. tests/recon/cases/test_chain.py holds them byte-identical. Only the chaining itself,
one sha256 per event over its predecessor's hash, is a loop (`chain`)."""

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from recon.cases.schema import cases_schema_exists

GENESIS = "0" * 64

# Every column of cases.events but the chain's own two, in table order.
HASHED_COLUMNS = (
    "event_no",
    "case_id",
    "at",
    "actor",
    "action",
    "status",
    "assignee",
    "resolution",
    "amount_minor",
    "currency",
    "note",
)

_HEX64 = re.compile(r"[0-9a-f]{64}")


def timestamp_text(at: datetime) -> str:
    """One spelling per instant: UTC, microseconds (what timestamptz keeps), a Z. A naive time is
    taken as UTC, as everywhere in the warehouse."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond:06d}Z"


def canonical(values: Mapping[str, object]) -> str:
    """The event's columns as canonical JSON. Written by hand rather than by a serializer's
    defaults so that a library upgrade cannot silently change every hash."""
    plain = {
        name: timestamp_text(value) if isinstance(value, datetime) else value
        for name, value in values.items()
    }
    return json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def event_hash(prev_hash: str, values: Mapping[str, object]) -> str:
    return hashlib.sha256((prev_hash + canonical(values)).encode("ascii")).hexdigest()


# How each hashed column is spelled in the canonical JSON, by its type.
_NUMBERS = ("event_no", "amount_minor")
_TIMESTAMPS = ("at",)

# One character of a string that is not plain printable ASCII, as json.dumps escapes it: the
# short escapes it knows, else \uXXXX in lower-case hex (a surrogate pair beyond the BMP).
_ESCAPE_CHAR = r"""
    case
        when c = '"' then '\"'
        when c = '\' then '\\'
        when c = chr(10) then '\n'
        when c = chr(13) then '\r'
        when c = chr(9) then '\t'
        when c = chr(8) then '\b'
        when c = chr(12) then '\f'
        when unicode(c) between 32 and 126 then c
        when unicode(c) < 65536 then printf('\u%04x', unicode(c))
        else printf('\u%04x\u%04x', 55296 + ((unicode(c) - 65536) >> 10),
                    56320 + ((unicode(c) - 65536) & 1023))
    end
"""


# Printable ASCII but the quote and the backslash: a string of these is its own JSON body.
_PLAIN = r"'[ !#-\[\]-~]*'"


def _string_sql(column: str, plain: bool) -> str:
    if plain:
        return f"""coalesce('"' || {column} || '"', 'null')"""
    return f"""
        case
            when {column} is null then 'null'
            when regexp_full_match({column}, {_PLAIN}) then '"' || {column} || '"'
            else '"' || array_to_string(
                list_transform(string_split({column}, ''), lambda c: {_ESCAPE_CHAR}), ''
            ) || '"'
        end
    """


def _value_sql(name: str, plain: bool) -> str:
    column = f'"{name}"'
    if name in _NUMBERS:
        return f"coalesce(cast({column} as varchar), 'null')"
    if name in _TIMESTAMPS:
        # timezone('UTC', ...) whatever the session's time zone: one spelling per instant.
        return f"""strftime(timezone('UTC', {column}), '"%Y-%m-%dT%H:%M:%S.%fZ"')"""
    return _string_sql(column, plain)


def _object_sql(plain: bool) -> str:
    # One concat of every piece: a chain of || would build each intermediate string.
    parts = [
        f"""'{"," if i else "{"}"{name}":', {_value_sql(name, plain)}"""
        for i, name in enumerate(sorted(HASHED_COLUMNS))
    ]
    return "concat(" + ", ".join(parts) + ", '}')"


def canonical_sql() -> str:
    """`canonical` as a DuckDB expression over the HASHED_COLUMNS of a row (by their names)."""
    # Nearly every event's strings (IDs, actions, statuses, names) are plain: one test of them
    # all together, rather than one per column, picks the row's spelling (a third of the cost).
    strings = ", ".join(
        f'"{name}"' for name in HASHED_COLUMNS if name not in (*_NUMBERS, *_TIMESTAMPS)
    )
    return (
        f"(case when regexp_full_match(concat({strings}), {_PLAIN}) "
        f"then {_object_sql(plain=True)} else {_object_sql(plain=False)} end)"
    )


def chain(prev_hash: str, bodies: pa.StringArray | pa.ChunkedArray) -> pa.StringArray:
    """The hashes of events whose canonical JSON is `bodies`, in order, the first chained to
    `prev_hash`: each is sha256(previous hash + body). Sequential by design, and the only part
    of writing the log that is a Python loop (about 0.7 microseconds an event). The bodies are
    read and the hashes kept `_BATCH` at a time: a first sync at 10M checkouts chains 1.7M
    events, whose bodies as Python strings took the process over its memory target."""
    parts, previous = [], prev_hash
    sha256 = hashlib.sha256
    arrays = bodies.chunks if isinstance(bodies, pa.ChunkedArray) else [bodies]
    for array in arrays:
        for start in range(0, len(array), _BATCH):
            hashes = []
            for body in array.slice(start, _BATCH).to_pylist():
                previous = sha256((previous + body).encode("ascii")).hexdigest()
                hashes.append(previous)
            parts.append(pa.array(hashes, pa.string()))
    return pa.concat_arrays(parts) if parts else pa.array([], pa.string())


def is_hash(text: str) -> bool:
    return _HEX64.fullmatch(text) is not None


@dataclass(frozen=True)
class Broken:
    """Where the chain first breaks: the event (None when it is the recorded head that is
    missing) and why, in words an operator can act on."""

    event_no: int | None
    case_id: str | None
    reason: str

    def describe(self) -> str:
        if self.event_no is None:
            return self.reason
        return f"event {self.event_no} (case {self.case_id}): {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    events: int
    head: str  # the last event's stored hash (GENESIS for an empty log)
    broken: Broken | None = None
    expected_head: str | None = None
    expected_head_at: int | None = None  # the event whose hash is the expected head

    @property
    def ok(self) -> bool:
        return self.broken is None

    def describe(self) -> str:
        if self.broken is not None:
            return f"cases log BROKEN: {self.broken.describe()}"
        lines = [f"cases log OK: {self.events} event(s), head {self.head}"]
        if self.expected_head is not None:
            since = self.events - (self.expected_head_at or 0)
            lines.append(
                f"the recorded head is event {self.expected_head_at or 0}: "
                f"{since} event(s) appended since"
            )
        return "\n".join(lines)


# Rows are hashed as they stream in: a log of millions of events never sits in memory.
_BATCH = 10_000


def verify(con: duckdb.DuckDBPyConnection, expected_head: str | None = None) -> ChainReport:
    """Walk `cases.events` in event_no order and report the first broken event: one whose
    content no longer matches its hash (edited), a gap in event_no or a prev_hash that is not
    the previous event's hash (deleted, inserted or reordered). Returns the number of events and
    the head hash (the last event's).

    Deleting the LAST events cannot be seen from inside the warehouse: what remains is a valid,
    shorter chain. So print the head and have operators record it somewhere else (a ticket, the
    run log); `expected_head`, a head recorded earlier, must then still be the hash of an event in
    the chain (later events may have been appended since): if it is not, events up to it were
    deleted or the log was rewritten."""
    if expected_head is not None:
        expected_head = expected_head.strip().lower()
        if not is_hash(expected_head):
            raise ValueError(f"{expected_head!r} is not a head hash (64 hexadecimal digits)")
    if not cases_schema_exists(con):
        found_at = 0 if expected_head == GENESIS else None
        return _with_expected(ChainReport(0, GENESIS), expected_head, GENESIS, found_at)
    [(total,)] = con.execute("select count(*) from cases.events").fetchall()
    columns = ", ".join(f'"{name}"' for name in (*HASHED_COLUMNS, "prev_hash", "hash"))
    cursor = con.execute(f"select {columns} from cases.events order by event_no")
    expected_no, previous = 1, GENESIS
    found_at = 0 if expected_head == GENESIS else None
    while rows := cursor.fetchmany(_BATCH):
        for row in rows:
            values = dict(zip(HASHED_COLUMNS, row[:-2], strict=True))
            prev_hash, stored = row[-2:]
            broken = _check(values, prev_hash, stored, expected_no, previous)
            if broken is not None:
                return ChainReport(total, _stored_head(con), broken)
            if stored == expected_head:
                found_at = values["event_no"]
            expected_no, previous = expected_no + 1, stored
    return _with_expected(ChainReport(total, previous), expected_head, previous, found_at)


def _check(
    values: dict[str, object], prev_hash: str, stored: str, expected_no: int, previous: str
) -> Broken | None:
    event_no, case_id = values["event_no"], values["case_id"]
    if event_no != expected_no:
        missing = (
            f"event {expected_no} is missing"
            if event_no == expected_no + 1
            else f"events {expected_no} to {event_no - 1} are missing"
        )
        return Broken(event_no, case_id, f"{missing}: deleted (or renumbered) after it was written")
    if prev_hash != previous:
        return Broken(
            event_no,
            case_id,
            f"its prev_hash {prev_hash[:12]}... is not the hash of the event before it "
            f"({previous[:12]}...): an event was deleted, inserted or reordered here",
        )
    if event_hash(prev_hash, values) != stored:
        return Broken(
            event_no, case_id, "its content does not match its hash: edited after it was written"
        )
    return None


def _stored_head(con: duckdb.DuckDBPyConnection) -> str:
    rows = con.execute("select hash from cases.events order by event_no desc limit 1").fetchall()
    return rows[0][0] if rows else GENESIS


def _with_expected(
    report: ChainReport, expected_head: str | None, head: str, found_at: int | None
) -> ChainReport:
    if expected_head is None:
        return report
    if found_at is None:
        broken = Broken(
            None,
            None,
            f"the recorded head {expected_head} is not in the log (it has {report.events} "
            f"event(s), head {head}): events up to it were deleted or the log was rewritten",
        )
        return ChainReport(report.events, head, broken, expected_head)
    return ChainReport(report.events, head, None, expected_head, found_at)
