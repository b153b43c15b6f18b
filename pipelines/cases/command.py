"""`recon cases ...`: the work list of cases, one case's history, the actions people take, the
sync a run makes, and the log's verification. Registered lazily in `pipelines.cli`.

Only click and the case vocabulary are imported up here: `recon --help` imports this module to
list the command, and DuckDB alone would cost it half a second."""

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipelines.cli_params import date_option, examples, existing_warehouse, warehouse_option
from recon.cases.display import age_text, status_text
from recon.cases.vocabulary import RESOLUTIONS, STATUSES
from recon.discrepancy_types import SEVERITIES

if TYPE_CHECKING:
    import duckdb

    from recon.cases.events import Event
    from recon.cases.queries import Case

# DuckDB lets one process at a time open the file. Another command, or a run's step, holds it for
# seconds at a time: waited for this long, then named in the error.
LOCK_WAIT_SECONDS = 10.0
_HOLDER = re.compile(r"held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


@contextmanager
def open_warehouse(warehouse: Path | None) -> Iterator["duckdb.DuckDBPyConnection"]:
    import duckdb

    from recon.warehouse import connect

    path = existing_warehouse(warehouse)
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            con = connect(path)
            break
        except duckdb.IOException as error:
            if "lock" not in str(error).lower():
                raise click.ClickException(f"cannot open {path}: {error}") from error
            if time.monotonic() >= deadline:
                holder = _HOLDER.search(str(error))
                who = f"process {holder['pid']} ({holder['program']})" if holder else "a process"
                raise click.ClickException(
                    f"{path} is in use by {who} (waited {LOCK_WAIT_SECONDS:g} s): "
                    "try again when it has finished"
                ) from error
            time.sleep(0.05)
    with con:
        yield con


def _case_id(con: "duckdb.DuckDBPyConnection", text: str) -> str:
    from recon.cases.errors import CaseError
    from recon.cases.queries import find_case

    try:
        return find_case(con, text)
    except CaseError as error:
        raise click.BadParameter(str(error), param_hint="ID") from error


def _not_empty(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise click.BadParameter("must not be empty")
    return value.strip() if value is not None else None


def _known_types(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    # Checked here rather than by click.Choice: the registry is read only when --type is given.
    from recon.discrepancy_types import type_names

    unknown = [value for value in values if value not in type_names()]
    if unknown:
        raise click.BadParameter(
            f"{', '.join(map(repr, unknown))}: not a discrepancy type; the types are "
            + ", ".join(type_names())
        )
    return values


@click.group(
    name="cases",
    epilog=examples(
        "recon cases list --status open --severity critical",
        "recon cases show 68bfa65dd888",
        "recon cases resolve 68bfa65dd888 --resolution refunded --by alice",
        "recon cases verify",
    ),
)
def cases() -> None:
    """Cases people act on: every discrepancy gets a case, every decision is kept.

    A run's discrepancies open cases (`sync`); people acknowledge, assign, resolve and reopen
    them; each change is an event in an append-only, hash-chained log in the warehouse that
    `verify` checks. A case is named by its discrepancy ID or an unambiguous prefix of it (at
    least 8 characters)."""


@cases.command(
    name="list",
    epilog=examples(
        "recon cases list                     # most severe first, then oldest first",
        "recon cases list --status open --status acknowledged --older-than 3",
        "recon cases list --severity critical --type duplicate_charge --limit 0",
        "recon cases list --status resolved --warehouse data/warehouse.duckdb",
    ),
)
@click.option(
    "--status",
    "statuses",
    type=click.Choice(STATUSES),
    multiple=True,
    help="Only cases in this status (repeatable) [default: all].",
)
@click.option(
    "--type",
    "types",
    multiple=True,
    callback=_known_types,
    help="Only discrepancies of this type (repeatable) [default: all].",
)
@click.option(
    "--severity",
    "severities",
    type=click.Choice(SEVERITIES),
    multiple=True,
    help="Only this severity (repeatable) [default: all].",
)
@click.option(
    "--older-than",
    type=click.FloatRange(min=0),
    metavar="DAYS",
    default=None,
    help="Only cases opened more than DAYS days ago.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="Show at most this many cases (0: all).",
)
@warehouse_option()
def list_cases(
    statuses: tuple[str, ...],
    types: tuple[str, ...],
    severities: tuple[str, ...],
    older_than: float | None,
    limit: int,
    warehouse: Path | None,
) -> None:
    """List the cases: ID, type, severity, amount, status, assignee and age, the most severe
    first and, within a severity, the oldest first."""
    from recon.cases.queries import list_cases as query

    now = datetime.now(UTC)
    with open_warehouse(warehouse) as con:
        found = query(
            con,
            statuses=statuses,
            types=types,
            severities=severities,
            older_than=None if older_than is None else timedelta(days=older_than),
            now=now,
            limit=limit or None,
        )
    if not found.cases:
        click.echo(
            "no cases match"
            if statuses or types or severities or older_than is not None
            else "no cases yet: `recon run` opens the cases of each date it reconciles"
        )
        return
    header = ["ID", "TYPE", "SEVERITY", "AMOUNT", "STATUS", "ASSIGNEE", "AGE"]
    click.echo(text_table(header, [_list_row(case, now) for case in found.cases]))
    if found.total > len(found.cases):
        click.echo(f"{len(found.cases)} of {found.total} cases shown: --limit 0 shows all")


def _list_row(case: "Case", now: datetime) -> list[str]:
    from recon.currencies import format_money

    s = case.state
    return [
        case.case_id[:12],
        case.type,
        case.severity,
        format_money(s.amount_minor, s.currency),
        status_text(s),
        s.assignee or "-",
        age_text(case.age(now)),
    ]


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


@cases.command(
    epilog=examples(
        "recon cases show 68bfa65dd888",
        "recon cases show 68bfa65dd88891301cc124f87e4a7193 --warehouse data/warehouse.duckdb",
    )
)
@click.argument("case_id", metavar="ID")
@warehouse_option()
def show(case_id: str, warehouse: Path | None) -> None:
    """Show a case and every event of its history, oldest first."""
    from recon.cases.queries import get_case

    with open_warehouse(warehouse) as con:
        case, events = get_case(con, _case_id(con, case_id))
    echo_case(case, events, datetime.now(UTC))


def echo_case(case: "Case", events: list["Event"], now: datetime) -> None:
    """A case's facts, then its history as a table (also `recon show`'s last part)."""
    from recon.currencies import format_money

    s = case.state
    facts = [
        ("type", f"{case.type} ({case.severity})"),
        ("checkout", case.checkout_id or "-"),
        ("partition", case.partition_date.isoformat()),
        ("opened", f"{when_text(case.opened_at)}, {age_text(case.age(now))} ago"),
        ("status", status_text(s)),
        ("assignee", s.assignee or "-"),
        ("amount", format_money(s.amount_minor, s.currency)),
    ]
    click.echo(f"case {case.case_id}")
    click.echo("\n".join(f"  {name:<10} {value}" for name, value in facts))
    click.echo("history:")
    rows = [history_row(event) for event in events]
    header = ["#", "AT (UTC)", "ACTOR", "ACTION", "STATUS", "ASSIGNEE", "AMOUNT", "HASH", "NOTE"]
    click.echo(indented(text_table(header, rows)))


def indented(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def when_text(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def history_row(event: "Event") -> list[str]:
    from recon.currencies import format_money

    s = event.state
    return [
        str(event.event_no),
        f"{event.at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
        event.actor,
        event.action,
        status_text(s),
        s.assignee or "-",
        format_money(s.amount_minor, s.currency),
        event.hash[:12],
        event.note or "",
    ]


def _by_option():
    return click.option(
        "--by",
        metavar="NAME",
        required=True,
        callback=_not_empty,
        help="Who acts (recorded in the log).",
    )


def _note_option(required: bool = False):
    return click.option(
        "--note",
        required=required,
        callback=_not_empty,
        default=None,
        help="The note." if required else "Why, for the record (optional).",
    )


def _case_action(
    *example_lines: str,
    name: str | None = None,
    options: tuple = (),
    note_required: bool = False,
):
    """A command that acts on one case: its ID, this action's own `options`, who acts and why,
    and the warehouse, in that order in --help."""
    stack = [
        click.argument("case_id", metavar="ID"),
        *options,
        _by_option(),
        _note_option(note_required),
        warehouse_option(),
    ]

    def decorate(f):
        for option in reversed(stack):
            f = option(f)
        return cases.command(name=name, epilog=examples(*example_lines))(f)

    return decorate


def _act(warehouse: Path | None, case_id: str, action, **kwargs) -> None:
    """Resolve the ID, run `action`, print the event it appended; refusals become errors."""
    from recon.cases.errors import CaseError

    with open_warehouse(warehouse) as con:
        full_id = _case_id(con, case_id)
        try:
            event = action(con, full_id, **kwargs)
        except CaseError as error:
            raise click.ClickException(str(error)) from error
    s = event.state
    status = status_text(s)
    assignee = f", assigned to {s.assignee}" if s.assignee else ""
    click.echo(
        f"case {event.case_id}: {event.action} by {event.actor}, now {status}{assignee} "
        f"(event {event.event_no})"
    )


@_case_action(
    "recon cases ack 68bfa65dd888 --by alice",
    "recon cases ack 68bfa65dd888 --by alice --note 'looking at the PSP export'",
)
def ack(case_id: str, by: str, note: str | None, warehouse: Path | None) -> None:
    """Acknowledge an open case: someone is on it."""
    from recon.cases.actions import acknowledge

    _act(warehouse, case_id, acknowledge, by=by, note=note)


@_case_action(
    "recon cases assign 68bfa65dd888 --to bob --by alice",
    "recon cases assign 68bfa65dd888 --to payments-team --by alice --note 'PSP side'",
    options=(
        click.option(
            "--to", metavar="NAME", required=True, callback=_not_empty, help="Who the case goes to."
        ),
    ),
)
def assign(case_id: str, to: str, by: str, note: str | None, warehouse: Path | None) -> None:
    """Assign a case (any status but cleared); its status stays as it is."""
    from recon.cases.actions import assign as assign_case

    _act(warehouse, case_id, assign_case, to=to, by=by, note=note)


@_case_action(
    "recon cases resolve 68bfa65dd888 --resolution refunded --by alice",
    "recon cases resolve 68bfa65dd888 --resolution false_positive --by bob --note 'test order'",
    options=(
        click.option(
            "--resolution", type=click.Choice(RESOLUTIONS), required=True, help="What settled it."
        ),
    ),
)
def resolve(
    case_id: str, resolution: str, by: str, note: str | None, warehouse: Path | None
) -> None:
    """Resolve an open or acknowledged case. A later run that finds its amount changed reopens
    it; one that no longer finds its discrepancy clears it."""
    from recon.cases.actions import resolve as resolve_case

    _act(warehouse, case_id, resolve_case, resolution=resolution, by=by, note=note)


@_case_action(
    "recon cases reopen 68bfa65dd888 --by alice",
    "recon cases reopen 68bfa65dd888 --by alice --note 'the refund bounced'",
)
def reopen(case_id: str, by: str, note: str | None, warehouse: Path | None) -> None:
    """Reopen a resolved case (its resolution stays in the history)."""
    from recon.cases.actions import reopen as reopen_case

    _act(warehouse, case_id, reopen_case, by=by, note=note)


@_case_action(
    "recon cases note 68bfa65dd888 --by alice --note 'asked the PSP for a trace'",
    name="note",
    note_required=True,
)
def add_note(case_id: str, by: str, note: str, warehouse: Path | None) -> None:
    """Add a note to a case's history (any status but cleared)."""
    from recon.cases.actions import note as note_case

    _act(warehouse, case_id, note_case, text=note, by=by)


@cases.command(
    epilog=examples(
        "recon cases sync --date 2026-03-10",
        "recon cases sync --date 2026-03-10 --warehouse data/warehouse.duckdb",
    )
)
@date_option("The reconciled business date whose cases to sync, YYYY-MM-DD.")
@warehouse_option()
def sync(day: date, warehouse: Path | None) -> None:
    """Open, clear and reopen the cases of a reconciled date from its discrepancies.

    What the pipeline does after each run; safe to repeat: a rerun on the same data changes
    nothing and never undoes what people decided."""
    from recon.cases.errors import CaseError
    from recon.cases.sync import sync as sync_partition

    with open_warehouse(warehouse) as con:
        try:
            result = sync_partition(con, day, datetime.now(UTC))
        except CaseError as error:
            raise click.ClickException(str(error)) from error
    click.echo(result.describe())


def _head(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    from recon.cases.chain import is_hash

    if value is not None and not is_hash(value.strip().lower()):
        raise click.BadParameter(f"{value!r} is not a head hash (64 hexadecimal digits)")
    return value


@cases.command(
    epilog=examples(
        "recon cases verify                   # prints the head: record it elsewhere",
        "recon cases verify --head "
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "recon cases verify --warehouse data/warehouse.duckdb",
    )
)
@click.option(
    "--head",
    metavar="HASH",
    callback=_head,
    default=None,
    help="A head printed by an earlier verify: it must still be in the log.",
)
@warehouse_option()
def verify(head: str | None, warehouse: Path | None) -> None:
    """Check that the case log was not edited: walk the hash chain and name the first broken
    event (exit 1). Exit 0 prints the number of events and the head hash.

    Deleting the last events leaves a valid, shorter chain that nothing in the warehouse can
    tell apart: record the printed head somewhere else and pass it as --head later."""
    from recon.cases.chain import verify as verify_log

    with open_warehouse(warehouse) as con:
        report = verify_log(con, head)
    if not report.ok:
        raise click.ClickException(report.describe())
    click.echo(report.describe())
