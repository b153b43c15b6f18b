"""Every number in the reports equals the one computed independently from the landing files."""

from datetime import date

import duckdb
import polars as pl
import pytest

from assets.reports.build import bridge_closes
from checks.invariants import bridge_closes as bridge_check
from tests.assets.reports.conftest import DAY, reconciled_day


def export(day, name: str) -> pl.DataFrame:
    return pl.read_parquet(day.files.root / "exports" / f"{name}.parquet")


def test_finance_figures_match_the_landing_files(day_of_reports):
    daily = export(day_of_reports, "finance_daily")
    expected = day_of_reports.oracle.finance()
    assert set(daily["currency"]) == set(expected)
    for row in daily.iter_rows(named=True):
        want = expected[row["currency"]]
        for column in (
            "orders",
            "ordered_minor",
            "gross_revenue_minor",
            "refunds_minor",
            "net_revenue_minor",
        ):
            assert row[column] == want.get(column, 0), (row["currency"], column)
    assert daily["gross_revenue_minor"].dtype == pl.Int64  # money never leaves as a float


def test_funnel_counts_each_checkout_once(day_of_reports):
    funnel = export(day_of_reports, "marketing_funnel").row(0, named=True)
    assert {k: funnel[k] for k in ("starts", "completions", "orders")} == (
        day_of_reports.oracle.funnel()
    )
    assert funnel["completion_events"] > funnel["completions"]  # duplicates were injected


def test_bridge_anchors_equal_independent_totals(day_of_reports):
    lines = export(day_of_reports, "revenue_bridge")
    finance = day_of_reports.oracle.finance()
    reported = day_of_reports.oracle.client_reported()

    def line(currency: str, name: str) -> int:
        row = lines.filter((pl.col("currency") == currency) & (pl.col("line") == name))
        return row["amount_minor"].item()

    for currency in finance:
        assert line(currency, "client_reported") == reported.get(currency, 0)
        assert line(currency, "ordered") == finance[currency].get("ordered_minor", 0)
        assert line(currency, "gross_revenue") == finance[currency].get("gross_revenue_minor", 0)
        assert line(currency, "net_revenue") == finance[currency]["net_revenue_minor"]


@pytest.mark.parametrize("seed", [4, 9, 16])
def test_bridge_closes_to_the_minor_unit_for_several_seeds(tmp_path, seed):
    day = reconciled_day(tmp_path, seed=seed, checkouts=80)
    lines = export(day, "revenue_bridge")
    for currency in lines["currency"].unique():
        assert bridge_closes(lines.filter(pl.col("currency") == currency)), currency
    with duckdb.connect(str(day.warehouse)) as con:
        result = bridge_check(con, None, DAY)
    assert result.passed, result.metadata


def test_bridge_check_fails_when_a_line_is_tampered_with(tmp_path):
    day = reconciled_day(tmp_path, seed=2, checkouts=40)
    with duckdb.connect(str(day.warehouse)) as con:
        con.execute(
            "update marts.revenue_bridge set amount_minor = amount_minor + 1 "
            "where line = 'refunds' and currency = (select min(currency) from marts.revenue_bridge)"
        )
        result = bridge_check(con, None, DAY)
    assert not result.passed
    assert any("net_revenue" in p for p in result.metadata["problems"].value)


def test_every_table_shown_is_exported_as_csv_and_parquet(day_of_reports):
    exports = day_of_reports.files.root / "exports"
    for name in day_of_reports.files.exports:
        csv = pl.read_csv(exports / f"{name}.csv")
        parquet = pl.read_parquet(exports / f"{name}.parquet")
        assert csv.height == parquet.height and csv.columns == parquet.columns, name


def test_unmatched_amounts_link_to_their_discrepancies(day_of_reports):
    finance = (day_of_reports.files.root / "finance.html").read_text()
    discrepancies = (day_of_reports.files.root / "discrepancies.html").read_text()
    unmatched = export(day_of_reports, "finance_unmatched")
    assert unmatched.height > 0
    for discrepancy_id in unmatched["discrepancy_id"]:
        assert f'href="discrepancies.html#d-{discrepancy_id}"' in finance
        assert f'id="d-{discrepancy_id}"' in discrepancies


def test_report_date_is_on_every_page(day_of_reports):
    for page in day_of_reports.files.pages.values():
        assert date.isoformat(DAY) in page.read_text()
