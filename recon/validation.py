"""Contract checks as SQL: one CASE picks the first rule a row breaks, so each quarantined row
carries exactly one specific reason. Text columns (CSV, JSON-lines, text in Parquet) are parsed and
checked from their text form; columns a Parquet file already stores as integers or timestamps are
used as they are, since parsing them back from text costs more than the rest of the load."""

from recon.contract import Column, Kind, Source
from recon.currencies import ISO_4217


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(col: Column) -> str:
    return f"nullif(trim(cast({quote_ident(col.name)} as varchar)), '')"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _in_list(values) -> str:
    return "(" + ", ".join(_literal(v) for v in sorted(values)) + ")"


_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"}


def native_kind(duckdb_type: str) -> str | None:
    """'integer', 'timestamp' or 'timestamptz' for a file column stored natively, else None."""
    if duckdb_type in _INTEGER_TYPES:
        return "integer"
    if duckdb_type == "TIMESTAMP WITH TIME ZONE":
        return "timestamptz"
    if duckdb_type.startswith("TIMESTAMP"):
        return "timestamp"
    return None


def _is_native(col: Column, native: str | None) -> bool:
    if col.kind is Kind.INTEGER:
        return native == "integer"
    return col.kind is Kind.TIMESTAMP and native in ("timestamp", "timestamptz")


def typed(col: Column, native: str | None = None) -> str:
    """The expression giving the column's typed value (valid rows only reach the table)."""
    name = quote_ident(col.name)
    if _is_native(col, native):
        if native == "timestamptz":
            return f"cast({name} at time zone 'UTC' as timestamp)"
        return f"cast({name} as {col.sql_type})"
    text = _text(col)
    if col.kind is Kind.INTEGER:
        return f"try_cast({text} as bigint)"
    if col.kind is Kind.TIMESTAMP:
        # Text may carry an offset or 'Z'; naive values are UTC.
        return f"cast(try_cast({text} as timestamptz) at time zone 'UTC' as timestamp)"
    return text


def _rules(source: Source, col: Column, native: str | None = None) -> list[tuple[str, str, str]]:
    """(condition, reason, detail) triples for one column, in the order they are checked."""
    label = _literal(f"column {col.name}: ")
    if _is_native(col, native):
        return _native_rules(source, col, label)
    text = _text(col)
    shown = f"left({text}, 80)"
    rules = []
    if col.required:
        reason = "missing_key" if col.name == source.key else "missing_value"
        rules.append((f"{text} is null", reason, f"{label} || 'is missing'"))
    elif col.required_when:
        rules.append(
            (
                f"{text} is null and {col.required_when}",
                "missing_value",
                f"{label} || 'is missing'",
            )
        )
    if col.kind is Kind.INTEGER:
        rules.append(
            (
                f"{text} is not null and not regexp_full_match({text}, '[+-]?[0-9]{{1,18}}')",
                "invalid_integer",
                f"{label} || 'not an integer: ' || {shown}",
            )
        )
        if col.minimum is not None:
            reason = "non_positive_amount" if col.minimum > 0 else "negative_amount"
            rules.append(
                (
                    f"try_cast({text} as bigint) < {col.minimum}",
                    reason,
                    f"{label} || {shown} || ' is below {col.minimum}'",
                )
            )
    elif col.kind is Kind.TEXT:
        # On the value as stored: a string's length is kept beside it, where trim() would copy it.
        width = f"strlen(cast({quote_ident(col.name)} as varchar))"
        rules.append(
            (
                f"{width} > {col.max_bytes}",
                "value_too_long",
                f"{label} || {width} || ' bytes, above the limit of {col.max_bytes}'",
            )
        )
    elif col.kind is Kind.ENUM:
        rules.append(
            (
                f"{text} is not null and lower({text}) not in {_in_list(col.values)}",
                "unknown_enum",
                f"{label} || 'unknown value ' || {shown}",
            )
        )
    elif col.kind is Kind.CURRENCY:
        rules.append(
            (
                f"{text} is not null and upper({text}) not in {_in_list(ISO_4217)}",
                "unknown_currency",
                f"{label} || 'not an ISO-4217 code: ' || {shown}",
            )
        )
    elif col.kind is Kind.TIMESTAMP:
        rules.append(
            (
                f"{text} is not null and try_cast({text} as timestamptz) is null",
                "unparseable_timestamp",
                f"{label} || 'not a timestamp: ' || {shown}",
            )
        )
    return rules + _consistency_rules(col, label, shown)


def _consistency_rules(col: Column, label: str, shown: str) -> list[tuple[str, str, str]]:
    """A rule across columns, after each column's own: it reads typed values of its columns."""
    if col.consistent_when is None:
        return []
    condition, says = col.consistent_when
    return [
        (
            f"{_text(col)} is not null and not coalesce({condition}, false)",
            "inconsistent_value",
            f"{label} || {shown} || ' {says}'",
        )
    ]


def _native_rules(source: Source, col: Column, label: str) -> list[tuple[str, str, str]]:
    """A natively typed value can only be missing or, for amounts, below its minimum."""
    name = quote_ident(col.name)
    rules = []
    missing = f"{name} is null"
    if col.required_when and not col.required:
        missing = f"{name} is null and {col.required_when}"
    if col.required or col.required_when:
        reason = "missing_key" if col.name == source.key else "missing_value"
        rules.append((missing, reason, f"{label} || 'is missing'"))
    if col.kind is Kind.INTEGER and col.minimum is not None:
        reason = "non_positive_amount" if col.minimum > 0 else "negative_amount"
        rules.append(
            (
                f"{name} < {col.minimum}",
                reason,
                f"{label} || cast({name} as varchar) || ' is below {col.minimum}'",
            )
        )
    return rules + _consistency_rules(col, label, f"cast({name} as varchar)")


def reason_columns(
    source: Source,
    prior_error: str | None,
    prior_detail: str | None,
    natives: dict[str, str | None] | None = None,
) -> str:
    """`_reason` and `_detail` select items: null for a valid row. `prior_*` carry parse errors
    found while reading the file (malformed JSON, bad encoding), which win over everything;
    `natives` names the columns a file stores natively (see `native_kind`)."""
    natives = natives or {}
    key_col = next(c for c in source.columns if c.name == source.key)
    ordered = [key_col, *(c for c in source.columns if c.name != source.key)]
    rules = [rule for col in ordered for rule in _rules(source, col, natives.get(col.name))]
    if prior_error:
        rules.insert(0, (f"{prior_error} is not null", prior_error, prior_detail or "''"))
    reason = " ".join(
        f"when {cond} then {reason if reason == prior_error else _literal(reason)}"
        for cond, reason, _ in rules
    )
    detail = " ".join(f"when {cond} then {det}" for cond, _, det in rules)
    return f"case {reason} end as _reason, case {detail} end as _detail"
