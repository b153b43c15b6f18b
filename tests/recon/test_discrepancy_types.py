"""The registry of discrepancy types is the one place a type's severity and money flag are
written: every rule has a row, every row a rule, and the SQL reads the same rows as Python."""

import duckdb
import pytest

from dbt_like_models import MODELS_DIR
from recon.discrepancy_types import (
    SEVERITIES,
    RegistryError,
    read_registry,
    severity_rank_sql,
    types,
)
from recon.sql_models import ModelError, discover, seed_sql

MODELS = discover(MODELS_DIR)
RULE_PREFIX = "int_discrepancy_"


def test_every_rule_is_registered_and_every_registered_type_has_a_rule():
    rules = {name.removeprefix(RULE_PREFIX) for name in MODELS if name.startswith(RULE_PREFIX)}
    assert rules == set(types())


def test_the_discrepancies_mart_reads_every_rule_and_the_registry():
    """Through the findings' union, which the engine writes over every rule's file."""
    assert set(MODELS["int_rule_findings"].depends_on) == {
        f"intermediate.{RULE_PREFIX}{t}" for t in types()
    }
    reads = set(MODELS["discrepancies"].depends_on)
    assert {"intermediate.int_rule_findings", "seeds.discrepancy_types"} <= reads


def test_the_seed_holds_what_python_reads():
    con = duckdb.connect()
    rows = con.execute(
        f"select type, severity, money, evidence, definition "
        f"from ({MODELS['discrepancy_types'].sql}) order by {severity_rank_sql()}, type"
    ).fetchall()
    registered = sorted(types().values(), key=lambda t: (SEVERITIES.index(t.severity), t.name))
    assert rows == [
        (t.name, t.severity, t.money, " ".join(t.evidence), t.definition) for t in registered
    ]


def _landing_sources(name: str, skipped: frozenset[str]) -> set[str]:
    """The landing tables a model reads, through every model it reads but `skipped`."""
    found = set()
    for dep in MODELS[name].depends_on:
        table = dep.split(".")[-1]
        if dep.startswith("raw."):
            found.add(table)
        elif table not in skipped and not dep.startswith("meta."):
            found |= _landing_sources(table, skipped)
    return found


def test_a_types_evidence_comes_from_sources_its_rule_reads():
    """Evidence is the rows the rule used: never a source it does not read. The checkouts of the
    day and the run's clock read every source, as context, and are left out."""
    context = frozenset({"int_checkouts_of_day", "int_run_context"})
    for name, registered in types().items():
        read = _landing_sources(f"{RULE_PREFIX}{name}", context)
        assert set(registered.evidence) <= read, name


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("duplicate_charge,urgent,true,payments,x", "severity 'urgent'"),
        ("duplicate_charge,high,yes,payments,x", "money must be true or false"),
        ("refund_exceeds_capture,critical,true,payments,x", "listed twice"),
        ("duplicate_charge,critical,true,payments ledger,x", "evidence must name landing sources"),
        ("duplicate_charge,critical,true,,x", "evidence must name landing sources"),
    ],
)
def test_a_bad_registry_row_is_an_error_naming_its_line(tmp_path, line, message):
    path = tmp_path / "discrepancy_types.csv"
    path.write_text(
        "type,severity,money,evidence,definition\n"
        "refund_exceeds_capture,critical,true,payments,x\n" + line + "\n"
    )
    with pytest.raises(RegistryError, match=rf"discrepancy_types.csv:3: .*{message}"):
        read_registry(path)


def test_a_seed_row_of_the_wrong_width_is_an_error_naming_its_line(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("a,b\n1,2\n3\n")
    with pytest.raises(ModelError, match=r"s.csv:3: 1 values for 2 columns"):
        seed_sql(path)
