"""The discrepancy types: one registry, `dbt_like_models/seeds/discrepancy_types.csv`.

Each row is a type the rules find (`intermediate/int_discrepancy_<type>.sql`), its severity, whether
it is money out of place (captured, kept, refunded or owed: what finance must act on), the landing
sources whose rows are its evidence (space-separated: `marts.discrepancy_evidence` lists the
checkout's rows in them), and its definition. The SQL models read the same file as the seed
`seeds.discrepancy_types` (`sql_models` turns a seed into an ephemeral model), so a type's severity
is written once."""

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

from dbt_like_models import MODELS_DIR
from recon.contract import SOURCES

SEEDS_DIR = MODELS_DIR / "seeds"
REGISTRY = SEEDS_DIR / "discrepancy_types.csv"

SOURCE_NAMES = tuple(SOURCES)

# Most severe first: the order reports, summaries and alert routing use.
SEVERITIES = ("critical", "high", "medium", "low")


@dataclass(frozen=True)
class DiscrepancyType:
    name: str
    severity: str
    money: bool
    definition: str
    evidence: tuple[str, ...] = ()


class RegistryError(ValueError):
    """The registry file is malformed: the message names the file and line."""


def read_registry(path: Path = REGISTRY) -> dict[str, DiscrepancyType]:
    found: dict[str, DiscrepancyType] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            where = f"{path}:{line}"
            name, severity, money = row["type"], row["severity"], row["money"]
            if name in found:
                raise RegistryError(f"{where}: type {name!r} is listed twice")
            if severity not in SEVERITIES:
                raise RegistryError(f"{where}: severity {severity!r} is not one of {SEVERITIES}")
            if money not in ("true", "false"):
                raise RegistryError(f"{where}: money must be true or false, not {money!r}")
            evidence = tuple(row["evidence"].split())
            unknown = sorted(set(evidence) - set(SOURCE_NAMES))
            if not evidence or unknown:
                raise RegistryError(
                    f"{where}: evidence must name landing sources ({', '.join(SOURCE_NAMES)}), "
                    f"not {row['evidence']!r}"
                )
            found[name] = DiscrepancyType(
                name, severity, money == "true", row["definition"], evidence
            )
    return found


@functools.cache
def types() -> dict[str, DiscrepancyType]:
    """The registry, in its order (by severity, then as the rules were written)."""
    return read_registry()


def type_names() -> tuple[str, ...]:
    return tuple(types())


def money_types() -> frozenset[str]:
    return frozenset(name for name, t in types().items() if t.money)


def severity_rank_sql(column: str = "severity") -> str:
    """SQL: 0 for the most severe, as `order by` wants it."""
    cases = " ".join(f"when '{s}' then {rank}" for rank, s in enumerate(SEVERITIES))
    return f"case {column} {cases} end"
