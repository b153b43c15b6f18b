"""A validated mapping as one DuckDB query over the provider's rows (a table of text columns named
`provider`, see `provider_files.py`). Every name is quoted as an identifier and every value as a
literal; nothing from a mapping or a file reaches the SQL unquoted.

The query runs in stages: `picked` (filter, then collapse the rows of a `group_by`), `plain` (each
column's and let's text: from, const, cases, sum, url_param, map, blank, negate_when; and each row's
time zone for a timestamp read with `timezone_from`), `mapped` (timestamps parsed, amounts
converted to minor units, templates filled in, and `_map_error` for the first value that would not
convert), `checked` (the contract's own checks, `recon.validation.reason_columns`), then each
quarantine detail with its column's `missing` note."""

import re
import string

from recon.adapters.mapping import (
    Case,
    ColumnSpec,
    Condition,
    Mapping,
    Sum,
    TimestampParse,
    param_of,
)
from recon.adapters.provider_files import META
from recon.contract import Kind
from recon.currencies import ISO_4217, exponent
from recon.validation import quote_ident, reason_columns

# Mapped columns a stage produces natively (not as text), for the contract's checks.
NATIVE = {Kind.TIMESTAMP: "timestamp", Kind.INTEGER: "integer"}


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# A repeated key/value record as BigQuery exports GA4's `event_params` (JSON text after
# `provider_files.flatten`): each value in the one of its typed fields that is set.
_PARAMS = (
    '[{"key": "VARCHAR", "value": {"string_value": "VARCHAR", "int_value": "VARCHAR", '
    '"float_value": "VARCHAR", "double_value": "VARCHAR"}}]'
)


def _value(column: str) -> str:
    """A provider value as trimmed text, null when blank; `col[key=k]` is the value of the
    record with key `k` in the list `col` holds (null when none has it, or it is no such list)."""
    param = param_of(column)
    if param is None:
        return f"nullif(trim({quote_ident(column)}), '')"
    name, key = param
    text = quote_ident(name)
    records = f"from_json({text}, {literal(_PARAMS)})"
    found = f"list_filter({records}, lambda _p: _p.key = {literal(key)})"
    typed = (
        "coalesce(_p.value.string_value, _p.value.int_value, _p.value.float_value, "
        "_p.value.double_value)"
    )
    # from_json fails on text that is not JSON: read it only when it is.
    value = f"case when json_valid({text}) then list_transform({found}, lambda _p: {typed})[1] end"
    return f"nullif(trim({value}), '')"


def condition_sql(condition: Condition) -> str:
    value = _value(condition.column)
    if condition.equals is not None:
        return f"coalesce({value} = {literal(condition.equals)}, false)"
    if condition.in_ is not None:
        return f"coalesce({value} in ({', '.join(map(literal, condition.in_))}), false)"
    if condition.not_in is not None:
        return f"coalesce({value} not in ({', '.join(map(literal, condition.not_in))}), true)"
    return f"{value} is {'not ' if condition.present else ''}null"


def conditions_sql(conditions: list[Condition]) -> str:
    return " and ".join(condition_sql(c) for c in conditions) or "true"


def picked_sql(mapping: Mapping, provider_columns: list[str]) -> str:
    """The rows that map: parsed, passing the filter and, with `group_by`, one per group (each
    column its first non-blank value in file order, the group's lines joined as its raw text)."""
    where = f"_error is null and {conditions_sql(mapping.filter)}"
    if not mapping.group_by:
        return f"select * from provider where {where}"
    keys = ", ".join(_value(k) for k in mapping.group_by)
    firsts = ", ".join(
        f"first({quote_ident(c)} order by _line) filter (where {_value(c)} is not null) "
        f"as {quote_ident(c)}"
        for c in provider_columns
        if c not in META
    )
    return (
        "select min(_line) as _line, string_agg(_raw, chr(10) order by _line) as _raw, "
        f"null::varchar as _error, null::varchar as _error_detail, {firsts} "
        f"from provider where {where} group by {keys}"
    )


def _unblank(text: str, blank: list[str] | None) -> str:
    if not blank:
        return text
    return f"(case when {text} in ({', '.join(map(literal, blank))}) then null else {text} end)"


# A plain decimal amount: what `sum` adds and `minor_units` converts.
DECIMAL = "'[+-]?[0-9]{1,15}(\\.[0-9]{1,9})?'"


def sum_sql(total: Sum, blank: list[str] | None, fallback: str | None) -> str:
    """The total of a `sum`'s columns as decimal text (`12.5`), exact: a blank column counts as
    zero; when every one is blank the total is `fallback` (else empty). A value that is no plain
    decimal is the result as it is, so that the conversion or the contract's check quarantines
    the row with that value rather than counting it as zero."""
    terms = [("+", _unblank(_value(c), blank)) for c in total.add]
    terms += [("-", _unblank(_value(c), blank)) for c in total.subtract]
    bad = " ".join(
        f"when {value} is not null and not regexp_full_match({value}, {DECIMAL}) then {value}"
        for _, value in terms
    )
    amount = " ".join(
        f"{sign} coalesce(cast(case when regexp_full_match({value}, {DECIMAL}) then {value} end "
        "as decimal(38, 9)), 0)"
        for sign, value in terms
    )
    none = " and ".join(f"{value} is null" for _, value in terms)
    empty = literal(fallback) if fallback is not None else "null::varchar"
    # `12.500000000` -> `12.5`, `100.000000000` -> `100`.
    text = f"regexp_replace(cast(({amount}) as varchar), '\\.?0+$', '')"
    return f"(case {bad} when {none} then {empty} else {text} end)"


def _case_value(case: Case) -> str:
    if case.then is not None:
        return literal(case.then)
    if case.sum is not None:
        return sum_sql(case.sum, None, None)
    return _value(case.from_)


def plain_sql(spec: ColumnSpec) -> str:
    """The text a column or let starts from (before parsing and templates)."""
    if spec.from_ is not None:
        # A value the provider writes for "none" is blank: a `from` list moves on to the next.
        values = [_unblank(_value(c), spec.blank) for c in spec.from_]
        text = values[0] if len(values) == 1 else f"coalesce({', '.join(values)})"
    elif spec.const is not None:
        text = literal(spec.const)
    elif spec.cases is not None:
        whens = " ".join(
            f"when {conditions_sql(case.when)} then {_case_value(case)}" for case in spec.cases
        )
        fallback = literal(spec.else_) if spec.else_ is not None else "null"
        text = _unblank(f"case {whens} else {fallback} end", spec.blank)
    elif spec.sum is not None:
        text = sum_sql(spec.sum, spec.blank, spec.else_)
    else:
        return "null::varchar"  # a template: filled in by `mapped`
    if spec.url_param is not None:
        pattern = literal(f"[?&]{re.escape(spec.url_param)}=([^&#]*)")
        text = f"nullif(url_decode(regexp_extract({text}, {pattern}, 1)), '')"
    if spec.map:
        pairs = " ".join(f"when {literal(k)} then {literal(v)}" for k, v in spec.map.items())
        text = f"(case {text} {pairs} else {text} end)"
    if spec.negate_when is not None:
        flipped = (
            f"case when starts_with({text}, '-') then substr({text}, 2) else '-' || {text} end"
        )
        text = f"(case when {conditions_sql(spec.negate_when)} then {flipped} else {text} end)"
    return text


def zone_sql(parse: TimestampParse) -> str:
    """Each row's time zone for values without an offset: the `timezone_from` column's value
    (through `zones`), else the mapping's `timezone`."""
    assert parse.timezone_from is not None
    zone = _value(parse.timezone_from)
    if parse.zones:
        pairs = " ".join(f"when {literal(k)} then {literal(v)}" for k, v in parse.zones.items())
        zone = f"(case {zone} {pairs} else {zone} end)"
    return f"coalesce({zone}, {literal(parse.timezone)})"


def zone_column(name: str) -> str:
    """The `plain` stage's column holding a timestamp column's per-row zone."""
    return quote_ident(f"_zone_{name}")


_OFFSET = "'[+-][0-9]{2}:[0-9]{2}'"


def zone_known_sql(zone: str) -> str:
    """A zone this query can apply: a UTC offset or a Region/City name (or UTC). Abbreviations
    are ambiguous (BST, IST, CST each name several zones), so a mapping declares the ones its
    export uses in `zones`."""
    name = f"(contains({zone}, '/') or {zone} = 'UTC')"
    return (
        f"(regexp_full_match({zone}, {_OFFSET}) or ({name} and "
        f"{zone} in (select name from pg_timezone_names())))"
    )


def _local_sql(naive: str, zone: str, per_row: bool) -> str:
    """A wall-clock `timestamp` in `zone` as a timestamptz."""
    if not per_row:
        return f"timezone({zone}, {naive})"
    minutes = (
        f"(case when left({zone}, 1) = '-' then -1 else 1 end) * "
        f"(cast(substr({zone}, 2, 2) as integer) * 60 + cast(substr({zone}, 5, 2) as integer))"
    )
    # `timezone` fails on an unknown name, so it only ever sees a known one.
    known = f"case when {zone_known_sql(zone)} then {zone} else 'UTC' end"
    return (
        f"case when regexp_full_match({zone}, {_OFFSET}) "
        f"then timezone('UTC', {naive} - to_minutes({minutes})) "
        f"when {zone_known_sql(zone)} then timezone({known}, {naive}) end"
    )


def timestamp_sql(text: str, parse: TimestampParse, zone: str | None = None) -> str:
    """UTC `timestamp` (naive) from text in the first form that parses, else null. Values without
    an offset are wall-clock time in `zone` (an expression: each row's zone), else in
    `parse.timezone`."""
    per_row = zone is not None
    zone = zone or literal(parse.timezone)
    tries = []
    for form in parse.formats:
        if form == "iso":
            has_offset = rf"regexp_matches({text}, '(Z|[+-][0-9]{{2}}(:?[0-9]{{2}})?)$')"
            naive = _local_sql(f"try_cast({text} as timestamp)", zone, per_row)
            tries.append(
                f"case when {has_offset} then try_cast({text} as timestamptz) else {naive} end"
            )
        elif form.startswith("unix_"):
            # At most 11 digits of seconds (14 of milliseconds, 17 of microseconds): up to the
            # year 5138, and no bigint overflow in microseconds.
            scale, width = {
                "unix_seconds": (1_000_000, 11),
                "unix_milliseconds": (1_000, 14),
                "unix_microseconds": (1, 17),
            }[form]
            digits = f"case when regexp_full_match({text}, '[0-9]{{1,{width}}}') then {text} end"
            tries.append(f"to_timestamp(0) + to_microseconds(cast({digits} as bigint) * {scale})")
        elif "%z" in form or "%Z" in form:
            tries.append(f"try_strptime({text}, {literal(form)})")
        else:
            tries.append(_local_sql(f"try_strptime({text}, {literal(form)})", zone, per_row))
    parsed = tries[0] if len(tries) == 1 else f"coalesce({', '.join(tries)})"
    return f"cast(({parsed}) at time zone 'UTC' as timestamp)"


def _exponent_sql(currency: str) -> str:
    others = {}
    for code in sorted(ISO_4217):
        if exponent(code) != 2:
            others.setdefault(exponent(code), []).append(literal(code))
    whens = " ".join(
        f"when upper({currency}) in ({', '.join(codes)}) then {digits}"
        for digits, codes in sorted(others.items())
    )
    return f"case {whens} else 2 end"


def minor_sql(amount: str, currency: str) -> str:
    """Integer minor units of a decimal major amount (`49.90` EUR → 4990), exact; null when the
    text is no plain decimal or has more decimals than the currency has (`0.5` JPY)."""
    decimal = (
        f"case when regexp_full_match({amount}, {DECIMAL}) "
        f"then cast({amount} as decimal(38, 9)) end"
    )
    scaled = f"({decimal} * cast(10 ** ({_exponent_sql(currency)}) as bigint))"
    return f"case when {scaled} = trunc({scaled}) then cast({scaled} as bigint) end"


def _mapped_column(name: str, spec: ColumnSpec, kind: Kind) -> tuple[str, str | None]:
    """(expression, failure condition) of a contract column, from the `plain` stage's values."""
    text = quote_ident(name)
    if spec.template is not None:
        return _template_sql(spec.template), None
    if spec.timestamp is not None:
        zone = zone_column(name) if spec.timestamp.timezone_from else None
        expr = timestamp_sql(text, spec.timestamp, zone)
        return expr, f"{text} is not null and {expr} is null"
    if spec.minor_units is not None:
        expr = minor_sql(text, quote_ident(spec.minor_units.currency))
        return expr, f"{text} is not null and {expr} is null"
    return text, None


def _template_sql(template: str) -> str:
    parts = []
    names = []
    for prefix, name, _, _ in string.Formatter().parse(template):
        if prefix:
            parts.append(literal(prefix))
        if name:
            parts.append(quote_ident(name))
            names.append(quote_ident(name))
    missing = " or ".join(f"{n} is null" for n in names) or "false"
    return f"case when {missing} then null else concat({', '.join(parts)}) end"


def _failure(name: str, spec: ColumnSpec) -> tuple[str, str]:
    origin = ", ".join(spec.from_ or (spec.sum.columns if spec.sum else [])) or "its value"
    label = f"column {name} (from {origin}): "
    if spec.timestamp is not None:
        forms = " or ".join(spec.timestamp.formats)
        parsing = literal(f"{label}not a timestamp in {forms}: ")
        if spec.timestamp.timezone_from:
            zone = zone_column(name)
            source = spec.timestamp.timezone_from
            # The zone, not the value, is then what failed: say which zone.
            parsing = (
                f"case when not {zone_known_sql(zone)} then {literal(label + 'unknown time zone ')}"
                f" || {zone} || {literal(f' (from {source}; name an abbreviation in zones): ')} "
                f"else {parsing} end"
            )
        return "unparseable_timestamp", parsing
    return "invalid_integer", literal(f"{label}not an amount in major units of its currency: ")


def mapping_sql(mapping: Mapping, provider_columns: list[str]) -> str:
    """The whole query: one row per picked row, `_line`, `_raw`, the contract's columns (typed
    where the mapping parsed them, text otherwise), `_reason` and `_detail` (null: it loads)."""
    source = mapping.source
    plain = [f"{plain_sql(spec)} as {quote_ident(name)}" for name, spec in mapping.let.items()]
    plain += [
        f"{zone_sql(spec.timestamp)} as {zone_column(name)}"
        for name, spec in mapping.columns.items()
        if spec.timestamp and spec.timestamp.timezone_from
    ]
    plain += [
        f"{plain_sql(mapping.columns[c.name]) if c.name in mapping.columns else 'null::varchar'}"
        f" as {quote_ident(c.name)}"
        for c in source.columns
    ]
    mapped, failures, natives = [], [], {}
    for col in source.columns:
        spec = mapping.columns.get(col.name)
        if spec is None:
            mapped.append(quote_ident(col.name))
            continue
        expr, failed = _mapped_column(col.name, spec, col.kind)
        mapped.append(f"{expr} as {quote_ident(col.name)}")
        if spec.timestamp or spec.minor_units:
            natives[col.name] = NATIVE[col.kind]
        if failed:
            reason, label = _failure(col.name, spec)
            failures.append((failed, reason, f"{label} || left({quote_ident(col.name)}, 80)"))
    error = " ".join(f"when {f} then {literal(r)}" for f, r, _ in failures)
    detail = " ".join(f"when {f} then {d}" for f, _, d in failures)
    map_error = f"case {error} end" if failures else "null::varchar"
    map_detail = f"case {detail} end" if failures else "null::varchar"
    checks = reason_columns(source, "_map_error", "_map_detail", natives)
    names = ", ".join(quote_ident(c.name) for c in source.columns)
    return (
        f"with picked as ({picked_sql(mapping, provider_columns)}), "
        f"plain as (select _line, _raw, {', '.join(plain)} from picked), "
        f"mapped as (select _line, _raw, {', '.join(mapped)}, {map_error} as _map_error, "
        f"{map_detail} as _map_detail from plain), "
        f"checked as (select _line, _raw, {names}, {checks} from mapped) "
        f"select _line, _raw, {names}, _reason, {_detail_sql(mapping)} as _detail "
        "from checked order by _line"
    )


def _detail_sql(mapping: Mapping) -> str:
    """The quarantine detail, with a column's `missing` note when it is the missing value."""
    notes = " ".join(
        f"when _reason in ('missing_key', 'missing_value') and "
        f"_detail = {literal(f'column {name}: is missing')} "
        f"then _detail || {literal(f' ({spec.missing})')}"
        for name, spec in mapping.columns.items()
        if spec.missing
    )
    return f"case {notes} else _detail end" if notes else "_detail"


def natives_of(mapping: Mapping) -> dict[str, str]:
    kinds = {c.name: c.kind for c in mapping.source.columns}
    return {
        name: NATIVE[kinds[name]]
        for name, spec in mapping.columns.items()
        if spec.timestamp or spec.minor_units
    }
