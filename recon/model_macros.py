"""Header directives that write a staging model's repeated SQL for it (dbt projects write such
blocks as Jinja macros). Every source is deduplicated the same way, in two models:

- `-- repeats of: raw.<source> by <id>, keeping the first landed` (or `keeping the latest
  <column>`): the whole model. The IDs that landed more than once, each with how many rows
  landed (`source_rows`) and which row staging keeps (`kept_source_file`, `kept_line`). Almost
  every ID lands once, so this stays small. Repeats are found by grouping the IDs' integer keys
  (cheaper than grouping the text), then ranked by the IDs themselves: a shared key alone is no
  proof of a repeat.
- `-- deduplicated: raw.<source> by <id>, kept rows from <repeats model>`: a `deduplicated` CTE
  the model's own select reads: the landed rows of IDs that landed once (`source_rows` 1), and
  the kept row of the others. An anti join against the small repeats model costs next to nothing
  when none repeats; a left join of every row to it, then a filter, misled the planner into
  running out of memory at 10M checkouts. The model stays ephemeral: each model reading it runs
  this in place, and storing it would be a second copy of every landing row.

The expanded SQL is what every engine runs, what the asset's code version hashes and what the
unit tests' `isolated_sql` reads."""

import re
from pathlib import Path

from recon.model_errors import ModelError

_REPEATS = "-- repeats of:"
_DEDUPLICATED = "-- deduplicated:"
PREFIXES = (_REPEATS, _DEDUPLICATED)
_REPEATS_RE = re.compile(
    r"-- repeats of: (?P<source>raw\.[a-z_]+) by (?P<id>[a-z_]+), "
    r"keeping the (?:first landed|latest (?P<latest>[a-z_]+))"
)
_DEDUPLICATED_RE = re.compile(
    r"-- deduplicated: (?P<source>raw\.[a-z_]+) by (?P<id>[a-z_]+), "
    r"kept rows from (?P<kept>[a-z_]+)"
)

_FIRST_LANDED = "landed._landing_date, landed._source_file, landed._line"
_LATEST = """
                landed.{column} desc,
                landed._landing_date desc,
                landed._source_file desc,
                landed._line desc"""

_REPEATS_SQL = """with repeated_keys as (
    select surrogate_key({id}) as id_key
    from {source}
    group by id_key
    having count(*) > 1
),

ranked_rows as (
    select
        landed.{id},
        landed._source_file,
        landed._line,
        count(*) over (partition by landed.{id}) as source_rows,
        row_number() over (
            partition by landed.{id}
            order by {order}
        ) as kept_rank
    from {source} as landed
    where surrogate_key(landed.{id}) in (select repeated_keys.id_key from repeated_keys)
)

select
    {id},
    _source_file as kept_source_file,
    _line as kept_line,
    source_rows
from ranked_rows
-- the IDs compared exactly: a shared key alone is not proof of a repeat
where kept_rank = 1 and source_rows > 1
"""

_DEDUPLICATED_SQL = """with single_rows as (
    select landed.*, 1 as source_rows
    from {source} as landed
    anti join {kept} as repeats on landed.{id} = repeats.{id}
),

kept_rows as (
    select landed.*, repeats.source_rows
    from {source} as landed
    inner join {kept} as repeats
        on
            landed.{id} = repeats.{id}
            and landed._source_file = repeats.kept_source_file
            and landed._line = repeats.kept_line
),

deduplicated as (
    select * from single_rows
    union all
    select * from kept_rows
)"""


def header_lines(text: str) -> list[str]:
    """The leading `--` comment lines of a model file: its description and directives."""
    lines = text.splitlines()
    return lines[
        : next((i for i, line in enumerate(lines) if not line.startswith("--")), len(lines))
    ]


def _directive(header: list[str], prefix: str, pattern: re.Pattern, path: Path) -> re.Match | None:
    lines = [line for line in header if line.startswith(prefix)]
    if not lines:
        return None
    if len(lines) > 1:
        raise ModelError(f"{path}: more than one `{prefix}` directive")
    match = pattern.fullmatch(lines[0].strip())
    if match is None:
        raise ModelError(
            f"{path}: cannot read {lines[0].strip()!r}; expected e.g. {_EXAMPLES[prefix]}"
        )
    return match


_EXAMPLES = {
    _REPEATS: "`-- repeats of: raw.orders by order_id, keeping the latest updated_at` or "
    "`... keeping the first landed`",
    _DEDUPLICATED: "`-- deduplicated: raw.orders by order_id, kept rows from stg_order_versions`",
}


def expand(text: str, path: Path) -> str:
    """The model's SQL with its `repeats of` or `deduplicated` directive written out (the text
    unchanged without one)."""
    header = header_lines(text)
    body = "\n".join(text.splitlines()[len(header) :]).strip()
    repeats = _directive(header, _REPEATS, _REPEATS_RE, path)
    deduplicated = _directive(header, _DEDUPLICATED, _DEDUPLICATED_RE, path)
    if repeats and deduplicated:
        raise ModelError(f"{path}: a model is either `{_REPEATS}` or `{_DEDUPLICATED}`, not both")
    if repeats:
        if body:
            raise ModelError(f"{path}: the engine writes a `{_REPEATS}` model; remove its SQL")
        latest = repeats["latest"]
        order = _LATEST.format(column=latest) if latest else _FIRST_LANDED
        sql = _REPEATS_SQL.format(source=repeats["source"], id=repeats["id"], order=order)
        return "\n".join([*header, sql])
    if deduplicated:
        ctes = _DEDUPLICATED_SQL.format(**deduplicated.groupdict())
        if re.match(r"with\b", body, re.IGNORECASE):
            # The model's own CTEs come after `deduplicated`, which they may read.
            body = ",\n\n" + body[4:].lstrip()
        else:
            body = "\n\n" + body
        return "\n".join([*header, ctes + body]) + "\n"
    return text
