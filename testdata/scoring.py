"""Scoring a run against a generator's ground truth: every injected anomaly found (recall) and
nothing else reported (precision), compared as (checkout_id, type) pairs. A finding that has no
checkout (a settlement line or payout of the provider's that no capture explains) is named by its
subject instead: the ground truth's `subject_id`, the finding's."""

from dataclasses import dataclass
from pathlib import Path

import polars as pl


@dataclass(frozen=True)
class Score:
    expected: frozenset[tuple[str, str]]
    found: frozenset[tuple[str, str]]

    @property
    def missed(self) -> set[tuple[str, str]]:
        return set(self.expected - self.found)

    @property
    def unexpected(self) -> set[tuple[str, str]]:
        return set(self.found - self.expected)

    @property
    def recall(self) -> float:
        return 1.0 if not self.expected else len(self.expected & self.found) / len(self.expected)

    @property
    def precision(self) -> float:
        return 1.0 if not self.found else len(self.expected & self.found) / len(self.found)

    def describe(self) -> str:
        lines = [
            f"scored against ground truth: recall {self.recall:.3f}, "
            f"precision {self.precision:.3f} "
            f"({len(self.expected)} injected, {len(self.found)} found)"
        ]
        lines += [f"  missed:     {c} {t}" for c, t in sorted(self.missed)]
        lines += [f"  unexpected: {c} {t}" for c, t in sorted(self.unexpected)]
        return "\n".join(lines)


def _pairs(frame: pl.DataFrame) -> frozenset[tuple[str, str]]:
    subject = pl.col("subject_id") if "subject_id" in frame.columns else pl.lit(None, pl.String)
    named = pl.coalesce(pl.col("checkout_id"), subject).alias("checkout_id")
    return frozenset(frame.select(named, "type").unique().iter_rows())


def score(ground_truth: Path, discrepancies: Path) -> Score:
    return Score(_pairs(pl.read_parquet(ground_truth)), _pairs(pl.read_parquet(discrepancies)))
