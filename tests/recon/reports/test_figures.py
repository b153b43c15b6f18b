"""Every number in the reports equals the one computed independently from the landing files."""

import re
from datetime import date

import duckdb
import polars as pl
import pytest

from checks.invariants import bridge_closes as bridge_check
from recon.reports import data
from recon.reports.build import bridge_closes, build_reports
from recon.sql_models import project_relations
from tests.recon.reports.conftest import DAY, reconciled_day


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
        result = bridge_check(project_relations(con, DAY), None, DAY)
    assert result.passed, result.metadata


def test_bridge_check_fails_when_a_line_is_tampered_with(tmp_path):
    day = reconciled_day(tmp_path, seed=2, checkouts=40)
    with duckdb.connect(str(day.warehouse)) as con:
        con.execute(
            "update marts.revenue_bridge set amount_minor = amount_minor + 1 "
            "where line = 'refunds' and currency = (select min(currency) from marts.revenue_bridge)"
        )
        result = bridge_check(project_relations(con, DAY), None, DAY)
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


def test_each_listed_discrepancy_shows_its_evidence_rows_per_source(day_of_reports):
    page = (day_of_reports.files.root / "discrepancies.html").read_text()
    with duckdb.connect(str(day_of_reports.warehouse), read_only=True) as con:
        counts = con.execute(
            "select discrepancy_id, source, count(*) from marts.discrepancy_evidence "
            "where _partition_date = ? group by all",
            [DAY],
        ).fetchall()
    assert counts
    rows = dict(re.findall(r'id="d-([0-9a-f]+)"(.*?)</tr>', page, re.S))  # a row per finding
    for discrepancy_id, source, found in counts:
        assert f"{source} {found}" in rows[discrepancy_id], discrepancy_id


def test_with_the_web_pages_address_each_listed_discrepancy_links_to_its_case(
    day_of_reports, tmp_path
):
    with duckdb.connect(str(day_of_reports.warehouse), read_only=True) as con:
        files = build_reports(con, DAY, tmp_path, case_url="https://recon.example.com")
    page = (files.root / "discrepancies.html").read_text()
    anchors = re.findall(r'id="d-([0-9a-f]+)"', page)
    links = re.findall(r'href="https://recon.example.com/cases/([0-9a-f]+)"', page)
    assert anchors and links == anchors
    assert "recon.example.com" not in (day_of_reports.files.root / "discrepancies.html").read_text()


def test_pages_list_a_bounded_number_of_rows_and_export_them_all(
    day_of_reports, monkeypatch, tmp_path
):
    """A day with a million discrepancies must still give pages a browser opens: each table
    lists PAGE_ROWS rows, says how many there are, and the exports keep every row."""
    monkeypatch.setattr(data, "PAGE_ROWS", 2)
    with duckdb.connect(str(day_of_reports.warehouse), read_only=True) as con:
        files = build_reports(con, DAY, tmp_path)
        per_type = dict(
            con.execute(
                "select type, count(*) from marts.discrepancies where _partition_date = ? "
                "group by type",
                [DAY],
            ).fetchall()
        )
    assert max(per_type.values()) > 2
    page = (files.root / "discrepancies.html").read_text()
    anchors = re.findall(r'id="d-([0-9a-f]+)"', page)
    assert len(anchors) == sum(min(2, n) for n in per_type.values())
    for kind, count in per_type.items():
        assert (f"Listing the first 2 of {count}" in page) == (count > 2), kind
    everything = pl.read_parquet(files.root / "exports" / "discrepancies.parquet")
    assert everything.height == sum(per_type.values())

    finance = (files.root / "finance.html").read_text()
    unmatched = pl.read_parquet(files.root / "exports" / "finance_unmatched.parquet")
    listed = unmatched.filter(pl.col("checkout_id").is_in(re.findall(r"chk_[0-9a-z_]+", finance)))
    assert listed.group_by("currency").len()["len"].max() == 2 < unmatched.height
    links = re.findall(r'href="discrepancies.html#d-([0-9a-f]+)"', finance)
    assert links and set(links) <= set(anchors)  # no link to a row the page does not list


def test_report_date_is_on_every_page(day_of_reports):
    for page in day_of_reports.files.pages.values():
        assert date.isoformat(DAY) in page.read_text()
