"""The Parquet exports of a partition: what a person opens first, most severe first, and the same
bytes for the same input."""

from datetime import date

import duckdb
import polars as pl

from recon.exports import write_exports

DAY = date(2026, 3, 10)


def warehouse(path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("create schema raw")
    con.execute(
        """
        create table marts.discrepancies as
        select * from (values
            (date '2026-03-10', 'd1', 'unattributed_revenue', 'low', 'chk_1', 100, 'EUR'),
            (date '2026-03-10', 'd2', 'duplicate_charge', 'critical', 'chk_2', 200, 'EUR'),
            (date '2026-03-10', 'd3', 'orphaned_reservation', 'medium', 'chk_3', null, null),
            (date '2026-03-10', 'd4', 'order_without_payment', 'high', 'chk_4', 300, 'GBP'),
            (date '2026-03-09', 'd5', 'duplicate_charge', 'critical', 'chk_5', 400, 'EUR')
        ) as t(_partition_date, discrepancy_id, type, severity, checkout_id, amount_minor,
            currency)
        """
    )
    con.execute(
        "alter table marts.discrepancies add column business_date date default date '2026-03-10'"
    )
    con.execute("alter table marts.discrepancies add column details varchar default '{}'")
    con.execute("alter table marts.discrepancies add column rule_version varchar default 'v1'")
    con.execute("alter table marts.discrepancies add column subject_id varchar")
    con.execute("update marts.discrepancies set subject_id = 'subject_' || checkout_id")
    con.execute(
        """
        create table marts.discrepancy_evidence as
        select * from (values
            (date '2026-03-10', 'd2', 'payments', 'p.jsonl', 9, 'pay_2'),
            (date '2026-03-10', 'd2', 'payments', 'p.jsonl', 3, 'pay_1'),
            (date '2026-03-09', 'd5', 'payments', 'p.jsonl', 4, 'pay_5')
        ) as t(_partition_date, discrepancy_id, source, source_file, line, record_id)
        """
    )
    con.execute(
        """
        create table raw.quarantine as
        select * from (values
            (date '2026-03-10', 'orders', 'b.csv', 2, 'bad_amount', 'x', 'raw 2'),
            (date '2026-03-10', 'orders', 'a.csv', 7, 'missing_id', 'y', 'raw 7')
        ) as t(_partition_date, source, _source_file, _line, reason, detail, raw_text)
        """
    )
    return con


def test_discrepancies_come_most_severe_first_and_only_of_their_day(tmp_path):
    con = warehouse(tmp_path / "w.duckdb")
    counts = write_exports(con, DAY, tmp_path / "out")
    assert counts == {"discrepancies": 4, "evidence_rows": 2, "quarantined": 2}
    exported = pl.read_parquet(tmp_path / "out" / "discrepancies.parquet")
    assert exported["severity"].to_list() == ["critical", "high", "medium", "low"]
    # The subject names a finding that has no checkout (a settlement line, a payout).
    assert exported.select("checkout_id", "subject_id").rows() == [
        (f"chk_{n}", f"subject_chk_{n}") for n in (2, 4, 3, 1)
    ]
    quarantined = pl.read_parquet(tmp_path / "out" / "quarantine.parquet")
    assert quarantined.select("file", "line").rows() == [("a.csv", 7), ("b.csv", 2)]
    evidence = pl.read_parquet(tmp_path / "out" / "discrepancy_evidence.parquet")
    assert evidence.select("discrepancy_id", "line").rows() == [("d2", 3), ("d2", 9)]


def test_the_same_partition_exports_the_same_bytes(tmp_path):
    con = warehouse(tmp_path / "w.duckdb")
    write_exports(con, DAY, tmp_path / "one")
    write_exports(con, DAY, tmp_path / "two")
    for name in ("discrepancies.parquet", "discrepancy_evidence.parquet", "quarantine.parquet"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert not list((tmp_path / "one").glob("*.tmp"))
