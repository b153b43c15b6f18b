"""A warehouse file whose `marts.discrepancies` the tests write directly (the mart's real columns
and types, what `recon.cases` reads), marked reconciled as a run marks it."""

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from recon.cases.chain import HASHED_COLUMNS
from recon.cases.sync import SyncResult, sync
from recon.discrepancy_types import types
from recon.run_params import RunParams, write_run_params
from recon.warehouse import connect

DAY = date(2026, 2, 10)
NOW = datetime(2026, 2, 11, 6, 0, tzinfo=UTC)

# The columns and types of dbt_like_models/marts/discrepancies.sql as materialized (partition
# column first); tests/recon/cases/test_real_run.py checks them against a real run.
MART_DDL = """
create schema if not exists marts;
create table if not exists marts.discrepancies (
    _partition_date date,
    discrepancy_id varchar,
    type varchar,
    severity varchar,
    checkout_id varchar,
    amount_minor bigint,
    currency varchar,
    business_date date,
    details varchar,
    subject_id varchar,
    rule_version varchar,
    run_id varchar
)
"""


@dataclass(frozen=True)
class Finding:
    type: str
    subject_id: str
    amount_minor: int | None = 1000
    currency: str | None = "EUR"
    discrepancy_id: str | None = None  # a chosen ID (say, to share a prefix with another)

    @property
    def id(self) -> str:
        # As the mart computes it: md5 of type and subject.
        return (
            self.discrepancy_id
            or hashlib.md5(f"{self.type}:{self.subject_id}".encode()).hexdigest()
        )

    @property
    def severity(self) -> str:
        return types()[self.type].severity

    @property
    def checkout_id(self) -> str:
        return self.subject_id.split(":")[0]


CHARGE = Finding("duplicate_charge", "chk_1", 5000, "USD")  # critical
MISMATCH = Finding("amount_mismatch", "ord_2", 1234, "EUR")  # high
RESERVATION = Finding("orphaned_reservation", "res_3", None, None)  # medium
UNATTRIBUTED = Finding("unattributed_revenue", "ord_4", 2200, "GBP")  # low
OLD_CHARGE = Finding("duplicate_charge", "chk_0", 900, "USD")  # critical, for a week-old case


@dataclass
class Shop:
    con: duckdb.DuckDBPyConnection
    path: Path

    def reconciled(self, day: date, *findings: Finding) -> None:
        """Partition `day` now holds exactly `findings`, as a (re)run would leave it."""
        self.con.execute("delete from marts.discrepancies where _partition_date = ?", [day])
        for f in findings:
            row = [day, f.id, f.type, f.severity, f.checkout_id, f.amount_minor, f.currency, day]
            self.con.execute(
                "insert into marts.discrepancies "
                "values (?, ?, ?, ?, ?, ?, ?, ?, '{}', ?, 'rule-v1', 'run-1')",
                [*row, f.subject_id],
            )
        write_run_params(self.con, day, RunParams())

    def sync(self, day: date = DAY, now: datetime = NOW, hours: float = 0) -> SyncResult:
        return sync(self.con, day, now + timedelta(hours=hours))

    def events(self, case_id: str | None = None) -> list[dict]:
        columns = ", ".join(f'"{c}"' for c in (*HASHED_COLUMNS, "prev_hash", "hash"))
        cursor = self.con.execute(
            f"select {columns} from cases.events where ? is null or case_id = ? order by event_no",
            [case_id, case_id],
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def last(self, case_id: str) -> dict:
        return self.events(case_id)[-1]


@contextmanager
def open_shop(path: Path) -> Iterator[Shop]:
    con = connect(path)
    con.execute(MART_DDL)
    try:
        yield Shop(con, path)
    finally:
        con.close()


def copied(template: Path, into: Path) -> Path:
    """A fresh copy of a closed warehouse file: what a module builds once (a few hundred
    milliseconds of commits), each of its tests gets to change on its own."""
    for name in (template.name, f"{template.name}.wal"):
        if (template.parent / name).exists():
            shutil.copy(template.parent / name, into / name)
    return into / template.name


@contextmanager
def five_cases(path: Path) -> Iterator[Shop]:
    """A warehouse at `path` with five cases, opened relative to the wall clock (as the ages
    the command and the pages show are): the old charge ten days ago, the others five hours ago."""
    now = datetime.now(UTC)
    earlier = DAY - timedelta(days=10)
    with open_shop(path) as shop:
        shop.reconciled(earlier, OLD_CHARGE)
        shop.sync(earlier, now - timedelta(days=10))
        shop.reconciled(DAY, CHARGE, MISMATCH, RESERVATION, UNATTRIBUTED)
        shop.sync(DAY, now - timedelta(hours=5))
        yield shop


def twin_cases(shop: Shop) -> list[Finding]:
    """Two open cases of DAY whose IDs share the prefix `abcdef01`."""
    twins = [
        Finding("duplicate_charge", f"chk_{n}", discrepancy_id=f"abcdef01{n}{'0' * 23}")
        for n in range(2)
    ]
    shop.reconciled(DAY, *twins)
    shop.sync()
    return twins


_HOLD = "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('held', flush=True); input()"


@contextmanager
def held_by_another_process(path: Path) -> Iterator[subprocess.Popen]:
    """The warehouse file at `path` opened read-write by another process until it reads a line
    (`holder.communicate("\\n")`) or the block ends (killed)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        yield holder
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    with open_shop(tmp_path / "warehouse.duckdb") as shop:
        yield shop
