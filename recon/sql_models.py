"""The model engine: discovers the SQL models, reads their dependencies from the SQL itself, orders
them, and materialises one partition of a model as a table.

Every model table carries `_partition_date` first. A model's SQL is written as if the warehouse held
one partition: before running it, each table it reads is rewritten into what it stands for in that
partition (`Relations`), so models stay plain, portable SQL with no partition plumbing.

A model is stored as a table unless its header says `-- materialized: ephemeral`: then it is never
stored, and each model reading it runs its query in place of the table, as dbt inlines an
ephemeral model. Storing costs a write of every row, so only what is read more than once, or what
people and checks query afterwards, is worth it (the staging layer, read once or twice per model,
would be a second copy of every landing row)."""

import csv
import fnmatch
import functools
import graphlib
import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope

from dbt_like_models import MODELS_DIR
from recon.contract import SOURCES
from recon.model_errors import ModelError
from recon.model_macros import PREFIXES, expand, header_lines
from recon.raw_rows import raw_rows_sql
from recon.run_params import PARAM_TABLES
from recon.warehouse import configure_keys, has_tables, transaction

LAYERS = ("staging", "intermediate", "marts")
SEEDS = "seeds"
MATERIALIZATIONS = ("table", "ephemeral")
_DIRECTIVE = "-- materialized:"
# `-- union of: <glob>`: the model is the union all of every model whose name matches, each read
# through the model's own select list (dbt projects loop over the graph in Jinja for this). A new
# rule is then found by its file name alone.
_UNION = "-- union of:"

# Tables models may read that are not models: landing data (staging only) and run parameters.
SOURCE_TABLES = frozenset({f"raw.{name}" for name in SOURCES} | set(PARAM_TABLES))


@dataclass(frozen=True)
class Model:
    name: str
    layer: str
    path: Path
    sql: str
    depends_on: tuple[str, ...] = field(default=())  # qualified table names, sorted
    materialized: str = "table"

    @property
    def table(self) -> str:
        return f"{self.layer}.{self.name}"

    @property
    def stored(self) -> bool:
        return self.materialized == "table"

    @property
    def description(self) -> str:
        """The leading `--` comment block of the file, its directives left out."""
        lines = []
        for line in self.sql.splitlines():
            if not line.startswith("--"):
                break
            if not line.startswith((_DIRECTIVE, _UNION, *PREFIXES)):
                lines.append(line.removeprefix("--").strip())
        return " ".join(lines)


def _materialized(text: str, path: Path, layer: str) -> str:
    """The `-- materialized: ...` directive of the file's header comment, or `table`."""
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        if line.startswith(_DIRECTIVE):
            value = line.removeprefix(_DIRECTIVE).strip()
            if value not in MATERIALIZATIONS:
                known = ", ".join(MATERIALIZATIONS)
                raise ModelError(f"{path}: unknown materialization {value!r} (one of {known})")
            if layer == "marts" and value != "table":
                raise ModelError(f"{path}: marts are what people read; they must be tables")
            return value
    return "table"


def union_sql(text: str, path: Path, models: dict[str, str]) -> str:
    """The model's SQL with its `-- union of: <glob>` directive expanded over `models` (name to
    SQL text; the text unchanged without one): its select list, read from each matching model in
    name order, joined by `union all`. Each branch adds `model_version`, a hash of the member's
    SQL file as written, so that what a member produced names the version of the rule behind it."""
    header = header_lines(text)
    patterns = [line.removeprefix(_UNION).strip() for line in header if line.startswith(_UNION)]
    if not patterns:
        return text
    members = sorted(n for n in models if fnmatch.fnmatchcase(n, patterns[0]) and n != path.stem)
    if not members:
        raise ModelError(f"{path}: no model matches {patterns[0]!r} (its `{_UNION}` directive)")
    select = "\n".join(text.splitlines()[len(header) :]).strip()
    if re.search(r"\bfrom\b", select, re.IGNORECASE):
        raise ModelError(f"{path}: a union model holds a select list only; the engine adds `from`")
    union = "\nunion all\n".join(
        f"{select},\n    '{model_version(models[member])}' as model_version\nfrom {member}"
        for member in members
    )
    return "\n".join([*header, union]) + "\n"


def model_version(text: str) -> str:
    """A model's version: the first 16 hex digits of the SHA-256 of its SQL file as written."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def seed_sql(path: Path) -> str:
    """A seed (`seeds/<name>.csv`, read as `seeds.<name>`) as an ephemeral model: its rows as
    literal values, `true` and `false` as booleans and everything else as text. A small table of
    facts that SQL and Python read from one file (e.g. the discrepancy types)."""
    with path.open(newline="", encoding="utf-8") as f:
        header, *rows = list(csv.reader(f))
    if not rows:
        raise ModelError(f"{path}: a seed needs a header and at least one row")
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise ModelError(f"{path}:{line}: {len(row)} values for {len(header)} columns")
    values = ",\n    ".join(f"({', '.join(_literal(v) for v in row)})" for row in rows)
    return (
        f"-- The seed {path.name}.\n{_DIRECTIVE} ephemeral\n"
        f"select * from (values\n    {values}\n) as seed({', '.join(header)})\n"
    )


def _literal(value: str) -> str:
    if value in ("true", "false"):
        return value
    return "'" + value.replace("'", "''") + "'"


def table_references(sql: str, origin: str = "<sql>") -> set[str]:
    """The tables a query reads, as written (`name` or `schema.name`), CTE names excluded."""
    try:
        return set(_references(sql))
    except sqlglot.errors.ParseError as exc:
        raise ModelError(f"{origin}: cannot parse SQL: {exc}") from exc


# Parsing the project's models is most of what building the Definitions costs (~0.5 s), and a
# process that runs several partitions (a backfill, the tests) builds them once per run.
@functools.lru_cache(maxsize=1024)
def _references(sql: str) -> frozenset[str]:
    tree = sqlglot.parse_one(sql, read="duckdb")
    refs = set()
    for scope in traverse_scope(tree):
        for table in scope.tables:
            if not table.name:
                continue
            if not table.db and table.name in scope.cte_sources:
                continue
            refs.add(f"{table.db}.{table.name}" if table.db else table.name)
    return frozenset(refs)


def discover(models_dir: Path) -> dict[str, Model]:
    """Every model under `models_dir`, keyed by name, with resolved dependencies.

    Raises ModelError naming the file for a duplicate name, an unknown reference, a raw table read
    outside staging, or a dependency cycle."""
    found: dict[str, tuple[str, Path, str]] = {}
    files = [(SEEDS, path, seed_sql(path)) for path in sorted((models_dir / SEEDS).glob("*.csv"))]
    files += [
        (layer, path, path.read_text(encoding="utf-8"))
        for layer in LAYERS
        for path in sorted((models_dir / layer).glob("*.sql"))
    ]
    for layer, path, text in files:
        name = path.stem
        if name in found:
            raise ModelError(f"{path}: model name {name!r} is already used by {found[name][1]}")
        found[name] = (layer, path, text)
    tables = {f"{layer}.{name}": name for name, (layer, _, _) in found.items()}
    texts = {name: text for name, (_, _, text) in found.items()}
    models = {}
    for name, (layer, path, text) in found.items():
        text = expand(union_sql(text, path, texts), path)
        deps = sorted(
            _resolve(ref, path, layer, found, tables) for ref in table_references(text, str(path))
        )
        models[name] = Model(name, layer, path, text, tuple(deps), _materialized(text, path, layer))
    order(models)
    return models


def _resolve(ref: str, path: Path, layer: str, found: dict, tables: dict) -> str:
    if ref in SOURCE_TABLES:
        if ref.startswith("raw.") and layer != "staging":
            raise ModelError(f"{path}: reads landing table {ref}; only staging models may")
        return ref
    if ref in found:
        return f"{found[ref][0]}.{ref}"
    if ref in tables:
        return ref
    known = ", ".join(sorted(found))
    raise ModelError(
        f"{path}: references unknown table {ref!r} (models: {known}; sources: "
        f"{', '.join(sorted(SOURCE_TABLES))})"
    )


def order(models: dict[str, Model]) -> list[Model]:
    """Models in dependency order; a cycle is a ModelError naming it."""
    by_table = {m.table: m for m in models.values()}
    graph = {m.table: [d for d in m.depends_on if d in by_table] for m in models.values()}
    try:
        return [by_table[t] for t in graphlib.TopologicalSorter(graph).static_order()]
    except graphlib.CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise ModelError(f"dependency cycle between models: {cycle}") from exc


class Relations:
    """What each table a model reads stands for when one partition is built: a stored model's
    (or the run parameters') rows of that partition, an ephemeral model's own query, or a landing
    source's loaded rows (`raw_rows.raw_rows_sql`)."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, models: dict[str, Model], partition: date
    ) -> None:
        self.con = con
        self.partition = partition
        self.by_table = {m.table: m for m in models.values()}
        self._built: dict[str, str] = {}
        # The models' macros, on whatever connection they run (a session of ours has them).
        configure_keys(con)

    def query(self, sql: str) -> str:
        """An ad-hoc query naming models (bare or `layer.name`) and sources, as it reads in this
        partition: what checks and people use to look at ephemeral models."""
        models = frozenset(self.by_table)
        return self.expand(_template(sql, models | frozenset(SOURCE_TABLES), models))

    def rows(self, sql: str, params: dict | None = None, origin: str = "<query>") -> list[tuple]:
        """The rows of `query(sql)`; `params` fill its `$name` placeholders. (`origin` names the
        query in errors, as `SparkRelations.rows` does.)"""
        return self.con.execute(self.query(sql), params).fetchall()

    def expand(self, template: str) -> str:
        """A template's placeholders replaced by what their tables stand for in the partition."""
        return _PLACEHOLDER_RE.sub(lambda m: f"({self.sql(m.group(1))})", template)

    def sql(self, qualified: str) -> str:
        if qualified not in self._built:
            self._built[qualified] = self._build(qualified)
        return self._built[qualified]

    def _build(self, qualified: str) -> str:
        model = self.by_table.get(qualified)
        if model is not None and not model.stored:
            return partition_sql(model, self)
        schema, name = qualified.split(".")
        if schema == "raw" and name in SOURCES:
            return raw_rows_sql(self.con, SOURCES[name], self.partition)
        return (
            f"select * exclude (_partition_date) from {qualified} "
            f"where _partition_date = date '{self.partition.isoformat()}'"
        )


def partition_sql(model: Model, relations: Relations) -> str:
    """The model's query with every table it reads replaced by what it stands for in the
    partition `relations` builds."""
    wanted = frozenset(model.depends_on)
    return relations.expand(_template(model.sql, wanted, wanted))


def isolated_sql(model: Model, inputs: dict[str, str]) -> str:
    """The model's query with each table it reads (`model.depends_on`, ephemeral models too)
    replaced by the query `inputs` gives for it: the model alone, on rows a unit test chose."""
    missing = sorted(set(model.depends_on) - inputs.keys())
    if missing:
        raise ModelError(f"{model.path}: no input for {', '.join(missing)}")
    wanted = frozenset(model.depends_on)
    return _PLACEHOLDER_RE.sub(
        lambda m: f"({inputs[m.group(1)]})", _template(model.sql, wanted, wanted)
    )


# A table a query reads, left in its SQL as this quoted name until the partition says what it
# stands for: a query is parsed once per process, not once per partition and reader (parsing and
# printing the inlined SQL took more time than the models themselves on a small partition).
_PLACEHOLDER = "__relation__"
_PLACEHOLDER_RE = re.compile(rf'"{_PLACEHOLDER}:([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)"')


@functools.cache
def _template(sql: str, wanted: frozenset[str], bare: frozenset[str]) -> str:
    """`sql` with each table it reads that `wanted` names renamed to a placeholder, aliased as it
    was written. A table named without its schema is the one of `bare` with that name."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    for scope in traverse_scope(tree):
        for table in scope.tables:
            if not table.db and table.name in scope.cte_sources:
                continue
            if table.db:
                qualified = f"{table.db}.{table.name}"
            else:
                qualified = next(
                    (b for b in sorted(bare) if b.split(".")[1] == table.name), table.name
                )
            if qualified not in wanted:
                continue
            alias = table.alias_or_name
            table.replace(
                exp.Table(
                    this=exp.to_identifier(f"{_PLACEHOLDER}:{qualified}", quoted=True),
                    alias=exp.TableAlias(this=exp.to_identifier(alias)),
                )
            )
    return tree.sql(dialect="duckdb")


@functools.cache
def _project_models(models_dir: Path) -> dict[str, Model]:
    return discover(models_dir)


def project_relations(con: duckdb.DuckDBPyConnection, partition: date) -> Relations:
    """The project's models (`dbt_like_models/`) as they read in `partition`."""
    return Relations(con, _project_models(MODELS_DIR), partition)


def stored_dependencies(model: Model, models: dict[str, Model]) -> list[str]:
    """The stored tables and sources a model reads, through the ephemeral models it inlines."""
    by_table = {m.table: m for m in models.values()}
    found: list[str] = []
    for dep in model.depends_on:
        upstream = by_table.get(dep)
        if upstream is not None and not upstream.stored:
            found += stored_dependencies(upstream, models)
        elif dep in PARAM_TABLES:
            # The settings tables are written together, by the one step that writes run_params.
            found.append(PARAM_TABLES[0])
        else:
            found.append(dep)
    return sorted(set(found))


def inlined_sql(model: Model, models: dict[str, Model]) -> list[str]:
    """The SQL of every ephemeral model the model inlines, transitively (what its code is)."""
    by_table = {m.table: m for m in models.values()}
    texts = []
    for dep in model.depends_on:
        upstream = by_table.get(dep)
        if upstream is not None and not upstream.stored:
            texts += [upstream.sql, *inlined_sql(upstream, models)]
    return texts


def materialize(
    con: duckdb.DuckDBPyConnection,
    model: Model,
    partition: date,
    relations: Relations | None = None,
) -> int:
    """Replace `partition`'s rows of the model's table; returns the number of rows written.

    `relations` knows the other models (which are ephemeral); without it every table read is a
    stored one. One transaction: a failing query leaves the previous rows in place."""
    if not model.stored:
        raise ModelError(f"{model.path}: an ephemeral model is never stored")
    relations = relations or Relations(con, {model.name: model}, partition)
    day = f"date '{partition.isoformat()}'"
    query = partition_sql(model, relations)
    with transaction(con):
        con.execute(f"create schema if not exists {model.layer}")
        shaped, columns = _shaped(con, query, day)
        _ensure_table(con, model, columns)
        con.execute(f"delete from {model.table} where _partition_date = {day}")
        # By name: a widened table has its new columns last, wherever the model has them.
        written = con.execute(f"insert into {model.table} by name {shaped}").fetchone()[0]
    return int(written)


def _shaped(
    con: duckdb.DuckDBPyConnection, query: str, day: str
) -> tuple[str, list[tuple[str, str]]]:
    """The rows to store, and their (name, type) columns: the partition date first, and 128-bit
    integers narrowed to bigint.

    DuckDB widens sum(bigint) to HUGEINT, which Parquet and Spark lack (it would leave as a
    float); money in minor units fits in 64 bits, and the cast fails loudly if it ever does not."""
    described = con.execute(f"describe {query}").fetchall()
    # Only signed ones: UHUGEINT is what surrogate_key gives, a key and not a sum.
    wide = [name for name, type_, *_ in described if type_ == "HUGEINT"]
    replace = (
        " replace (" + ", ".join(f'cast("{c}" as bigint) as "{c}"' for c in wide) + ")"
        if wide
        else ""
    )
    columns = [("_partition_date", "DATE")] + [
        (name, "BIGINT" if name in wide else type_) for name, type_, *_ in described
    ]
    return f"select {day} as _partition_date, *{replace} from ({query})", columns


def _ensure_table(
    con: duckdb.DuckDBPyConnection, model: Model, wanted: list[tuple[str, str]]
) -> None:
    """Create the model's table, widen it when the model only gained columns, or recreate it
    when the model's columns changed otherwise.

    A new column (a new version of the project adding one) keeps the other partitions, null in
    it until they are rebuilt: an upgrade must not empty a mart's history. A removed column or a
    changed type invalidates every stored partition: they must be rebuilt."""
    if has_tables(con, model.table, views=False):
        current = [(r[0], r[1]) for r in con.execute(f"describe {model.table}").fetchall()]
        if current == wanted:
            return
        if set(current) <= set(wanted):
            present = {name for name, _ in current}
            for name, type_ in wanted:
                if name not in present:
                    con.execute(f'alter table {model.table} add column "{name}" {type_}')
            return
        con.execute(f"drop table {model.table}")
    # From the described columns, not `as <query> limit 0`: that would plan the model's query a
    # third time (about 5 ms a model on a small partition, each run of a new warehouse).
    columns = ", ".join(f'"{name}" {type_}' for name, type_ in wanted)
    con.execute(f"create table {model.table} ({columns})")
