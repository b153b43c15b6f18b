"""A source's landing checks computed by Spark (`recon.spark.checks`) say what DuckDB's say
about the same landing files: rows per file, keys breaking the rule, and the contract's failures,
counted over the whole day and located by file and line."""

import pytest

from recon.contract import PAYMENTS
from recon.contract_suites import idempotency_key_rate, validate_contract
from recon.ingest import ingest_source
from recon.spark import ingest as spark_ingest
from recon.spark.checks import landing_facts
from recon.spark.tables import SparkTables
from recon.warehouse import claim, connect
from testdata.flows import combine_rows
from testdata.synthetic import write_rows
from tests.checks.test_checks import DAY, at, flows

pytestmark = pytest.mark.slow


def _landing_with_a_stale_payment(landing):
    """A day whose payments break the contract: one stamped a month before the read window
    (ingestion accepts it, the contract does not), in the day's own folder."""
    rows = combine_rows(f.rows for f in flows(10))
    stale = dict(rows["payments"][1], payment_id="pay_stale", created_at=at("10:00", days=-40))
    write_rows(landing, rows)
    write_rows(landing, {"payments": [stale]}, name="late")
    old = next((landing / "payments").glob("*/late-00.jsonl"))
    old.rename(landing / "payments" / DAY.isoformat() / "late-00.jsonl")


def test_landing_checks_on_spark_count_and_locate_what_duckdb_does(spark, tmp_path):
    landing = tmp_path / "landing"
    _landing_with_a_stale_payment(landing)
    with connect(tmp_path / "duckdb.duckdb") as con:
        report = ingest_source(con, PAYMENTS, landing, DAY, 3)
        on_duckdb = validate_contract(con, PAYMENTS, DAY, 3, report.summary)
        keys_on_duckdb = idempotency_key_rate(con, PAYMENTS, DAY)
    tables = SparkTables(spark, str(tmp_path / "spark"))
    with connect(tmp_path / "spark.duckdb") as con:
        claim(con, "spark")
        spark_ingest.ingest_source(tables, con, PAYMENTS, landing, DAY, 3)
    facts = landing_facts(tables, PAYMENTS, DAY, 3)

    assert facts.stored_per_file == {f.file: f.rows_loaded for f in report.files}
    assert (facts.rows, facts.keys_breaking_rule) == keys_on_duckdb
    assert facts.keys_breaking_rule > 0  # the duplicate charge's fresh key
    on_spark = facts.contract
    assert (on_spark.rows, on_spark.expectations) == (on_duckdb.rows, on_duckdb.expectations)
    [failure] = on_spark.failures
    assert failure.column == "created_at"
    assert failure.observed.startswith(f"1 of {on_spark.rows} rows")
    assert failure.sample == on_duckdb.failures[0].sample
    [where] = failure.sample
    stale = at("10:00", days=-40).replace(tzinfo=None)
    assert where.endswith(f"late-00.jsonl:1 created_at={stale!r}")
