"""DuckDB SQL, as the models are written, turned into Spark SQL.

sqlglot transpiles with `unsupported_level=RAISE`, so a construct it knows Spark cannot express
stops the run. It still writes some functions through unchanged (`regexp_full_match` was one), and
some that exist on both mean different things: only running on both engines proves parity (the
tests do). What the two engines mean differently is handled here, once for every model (each rule
is a transform of the parsed query):

- `surrogate_key(id)` is a DuckDB macro (`recon.warehouse`) that packs two 64-bit hashes into a
  128-bit integer so that DuckDB groups and joins by an integer instead of text. Spark has no
  128-bit integer, and a 64-bit hash could collide at 100M IDs a day; on Spark the key is the ID
  itself, which groups and joins exactly. Key columns therefore hold text on Spark, and
  `key_hash(key)` (on DuckDB the key's first hash, `hash(id)`) is `hash(key)`.
- `to_json(struct_pack(...))`: Spark's `to_json` drops null fields by default, where DuckDB
  writes `null`; the option `ignoreNullFields` keeps them, so a detail reads the same on both.
  The two print timestamps differently inside JSON, and identically as text: a model casts a
  timestamp to varchar before it goes into a JSON detail (the parity tests catch one that does
  not).
- Types: DuckDB's `timestamp` has no time zone, Spark's `timestamp` is an instant shown in the
  session's zone; DuckDB's `timestamp` becomes Spark's `timestamp_ntz` and `timestamptz` its
  `timestamp_ltz`, so values keep their meaning and Parquet files read back as the same type.
  `hugeint` (which sqlglot writes as `INT128`, a type Spark does not have) is `decimal(38, 0)`,
  the widest exact integer Spark has.
- `strlen` (bytes) is Spark's `octet_length`; `regexp_full_match` is an anchored `regexp_like`.
- `date_diff(unit, a, b)` counts the unit boundaries crossed on DuckDB, and whole units elapsed
  on Spark (`timestampdiff`): 10:59 to 11:01 is one hour on DuckDB, none on Spark. Both ends are
  truncated to the unit first, which makes the two the same.
"""

import functools
from collections.abc import Callable

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope


class SparkDialectError(ValueError):
    """A query cannot be expressed in Spark SQL."""


def _surrogate_key_is_the_id(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous) and node.name.lower() == "surrogate_key":
        [argument] = node.expressions
        return argument
    return node


def _key_hash_is_hash(node: exp.Expression) -> exp.Expression:
    # The key is the ID: its hash is the ID's, as `key_hash` promises. (A pass before
    # `_surrogate_key_is_the_id`, which then turns a key made in place inside it into its ID.)
    if isinstance(node, exp.Anonymous) and node.name.lower() == "key_hash":
        return exp.Anonymous(this="hash", expressions=[e.copy() for e in node.expressions])
    return node


def _to_json_keeps_nulls(node: exp.Expression) -> exp.Expression:
    if (
        isinstance(node, exp.Anonymous)
        and node.name.lower() == "to_json"
        and len(node.expressions) == 1
    ):
        options = exp.Anonymous(
            this="map",
            expressions=[exp.Literal.string("ignoreNullFields"), exp.Literal.string("false")],
        )
        return exp.Anonymous(this="to_json", expressions=[node.expressions[0].copy(), options])
    return node


def _date_diff_counts_boundaries(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DateDiff) and node.args.get("date_part_boundary"):
        unit = node.args["unit"]
        node = node.copy()
        node.set("date_part_boundary", None)
        for arg in ("this", "expression"):
            node.set(arg, exp.TimestampTrunc(this=node.args[arg], unit=unit.copy()))
    return node


def _types(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DataType):
        if node.this == exp.DataType.Type.TIMESTAMP:
            return exp.DataType.build("timestamp_ntz", dialect="spark")
        if node.this == exp.DataType.Type.TIMESTAMPTZ:
            return exp.DataType.build("timestamp_ltz", dialect="spark")
        if node.this == exp.DataType.Type.INT128:
            return exp.DataType.build("decimal(38, 0)", dialect="spark")
    return node


def _string_functions(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous) and node.name.lower() == "strlen":
        return exp.Anonymous(this="octet_length", expressions=[e.copy() for e in node.expressions])
    if isinstance(node, exp.RegexpFullMatch):
        pattern = node.expression
        if not pattern.is_string:
            raise SparkDialectError("regexp_full_match needs a literal pattern on Spark")
        anchored = exp.Literal.string(f"^(?:{pattern.this})$")
        return exp.RegexpLike(this=node.this.copy(), expression=anchored)
    return node


TRANSFORMS: tuple[Callable[[exp.Expression], exp.Expression], ...] = (
    _key_hash_is_hash,
    _surrogate_key_is_the_id,
    _to_json_keeps_nulls,
    _date_diff_counts_boundaries,
    _types,
    _string_functions,
)


def _rename_tables(tree: exp.Expression, tables: dict[str, str]) -> None:
    """Each table the query reads that `tables` names (qualified `schema.name`, or bare) becomes
    the Spark view of that name, keeping the alias it was read under."""
    bare = {qualified.split(".")[1]: view for qualified, view in tables.items()}
    for scope in traverse_scope(tree):
        for table in scope.tables:
            if not table.db and table.name in scope.cte_sources:
                continue
            qualified = f"{table.db}.{table.name}" if table.db else table.name
            view = tables.get(qualified) if table.db else bare.get(table.name)
            if view is None:
                continue
            table.replace(
                exp.Table(
                    this=exp.to_identifier(view),
                    alias=exp.TableAlias(this=exp.to_identifier(table.alias_or_name)),
                )
            )


@functools.cache
def _to_spark(sql: str, tables: tuple[tuple[str, str], ...], origin: str) -> str:
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise SparkDialectError(f"{origin}: cannot parse as DuckDB SQL: {exc}") from exc
    _rename_tables(tree, dict(tables))
    try:
        for transform in TRANSFORMS:
            tree = tree.transform(transform)
    except SparkDialectError as exc:
        raise SparkDialectError(f"{origin}: {exc}") from exc
    try:
        return tree.sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.UnsupportedError as exc:
        raise SparkDialectError(f"{origin}: not expressible in Spark SQL: {exc}") from exc


def spark_sql(sql: str, tables: dict[str, str] | None = None, origin: str = "<sql>") -> str:
    """`sql` (DuckDB) as Spark SQL, reading the Spark view `tables[t]` wherever it reads table
    `t` (`schema.name`; a bare name in the query matches on the name). Cached per process."""
    return _to_spark(sql, tuple(sorted((tables or {}).items())), origin)
