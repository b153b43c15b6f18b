"""Writing the reports of one business date: HTML pages, their charts, and an export per table."""

import html
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import jinja2
import polars as pl

from recon.currencies import format_money
from recon.discrepancy_types import SEVERITIES
from recon.reports import cases_data, charts, data
from recon.revenue_bridge import unclosed_totals

BRIDGE_EXPLANATIONS = {
    "marketing_attributed": "client completion events that carry a campaign (marketing's number)",
    "utm_lost": "completions without a campaign whose order was attributed server-side",
    "no_campaign_on_client": "completions with no campaign on either side (direct traffic)",
    "client_reported": "everything the browsers reported as completed",
    "duplicate_completion_events": "completion events fired more than once for a checkout",
    "phantom_completions": "completions for checkouts that never got an order",
    "completed_then_cancelled": "completions whose order was cancelled later",
    "no_client_event": "orders whose completion event never arrived (blocked or lost)",
    "client_amount_differs": "order total differs from the revenue the client reported",
    "ordered": "orders not cancelled (server side)",
    "orders_not_captured": "orders with no capture yet (held or missing payment)",
    "capture_differs_from_order": "captured differs from the order total (duplicate or partial)",
    "captures_without_open_order": "money captured where no order stands (cancelled or missing)",
    "gross_revenue": "captured (finance's gross revenue)",
    "refunds": "refunds",
    "net_revenue": "captured minus refunds (finance's net revenue)",
    "not_settled": "captures and refunds no settlement line settles yet",
    "settlement_differs": "settled gross differs from the payment (settled twice, short, other "
    "currency)",
    "settled_gross": "gross of the provider's charge and refund lines for these payments",
    "fees": "the provider's fees on those lines and on chargebacks",
    "chargebacks": "money disputed and taken back, net of reversals",
    "adjustments": "the provider's lines of the day that name no payment of ours (fees, "
    "adjustments, charges no capture explains)",
    "settled_net": "what the provider owes after fees, chargebacks and its own lines",
    "awaiting_payout": "settled lines whose payout has not been reported paid",
    "paid_out": "settled net in payouts the provider reports paid",
}

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("recon.reports", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True)
class Col:
    title: str
    key: str
    numeric: bool = False
    html: bool = False


@dataclass
class ReportFiles:
    """Where one date's reports go, and what was written (pages, exports, key figures)."""

    root: Path
    # Where `recon web` serves case pages: each listed discrepancy links to its case there.
    case_url: str | None = None
    pages: dict[str, Path] = field(default_factory=dict)
    exports: list[str] = field(default_factory=list)
    figures: dict[str, object] = field(default_factory=dict)


def _export(files: ReportFiles, name: str, frame: pl.DataFrame) -> str:
    folder = files.root / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(folder / f"{name}.parquet")
    # CSV has no nested types: JSON-encode any list/struct column first.
    flat = frame.with_columns(
        pl.col(c).map_elements(json.dumps, return_dtype=pl.String)
        for c, t in frame.schema.items()
        if t.is_nested()
    )
    flat.write_csv(folder / f"{name}.csv")
    files.exports.append(name)
    return name


def _page(files: ReportFiles, name: str, title: str, day: date, exports: list[str], **ctx) -> None:
    html = _ENV.get_template(f"{name}.html").render(title=title, day=day, exports=exports, **ctx)
    path = files.root / f"{name}.html"
    path.write_text(html, encoding="utf-8")
    files.pages[name] = path


def _money_rows(frame: pl.DataFrame, money_columns: list[str]) -> list[dict]:
    rows = []
    for row in frame.iter_rows(named=True):
        shown = dict(row)
        for column in money_columns:
            shown[column] = format_money(row[column], row.get("currency"))
        rows.append(shown)
    return rows


def _checkout_link(label: str, discrepancy_id: str) -> str:
    return f'<a href="discrepancies.html#d-{discrepancy_id}">{html.escape(label)}</a>'


def build_finance(con, day: date, files: ReportFiles) -> None:
    finance = data.finance(con, day)
    exports = [_export(files, "finance_daily", finance.daily)]
    every_unmatched = data.every_unmatched(con, day)
    exports.append(_export(files, "finance_unmatched", every_unmatched))
    money = [
        "ordered_minor",
        "gross_revenue_minor",
        "refunds_minor",
        "net_revenue_minor",
        "captured_minus_ordered_minor",
        "held_minor",
        "unmatched_minor",
    ]
    daily = _money_rows(finance.daily, money)
    unmatched = _money_rows(finance.unmatched, ["amount_minor"])
    for row in unmatched:
        # A discrepancy the discrepancies page does not list (past its PAGE_ROWS) has no anchor.
        # A finding no checkout explains (a provider's line or payout) is named by its subject.
        label = row["checkout_id"] or row["subject_id"]
        row["checkout"] = (
            _checkout_link(label, row["discrepancy_id"])
            if row["on_discrepancy_page"]
            else html.escape(label)
        )
    cards = [
        {
            "label": f"net revenue {r['currency']}",
            "key": f"net-{r['currency']}",
            "value": r["net_revenue_minor"],
        }
        for r in daily
    ]
    files.figures["finance"] = {
        row["currency"]: {
            "orders": row["orders"],
            "gross_revenue_minor": row["gross_revenue_minor"],
            "refunds_minor": row["refunds_minor"],
            "net_revenue_minor": row["net_revenue_minor"],
        }
        for row in finance.daily.iter_rows(named=True)
    }
    exports.append(_export(files, "finance_cash", finance.cash))
    exports.append(_export(files, "finance_cash_waiting", finance.waiting))
    _page(
        files,
        "finance",
        "Finance",
        day,
        exports,
        cards=cards,
        daily=daily,
        daily_columns=[
            Col("currency", "currency"),
            Col("orders", "orders", numeric=True),
            Col("cancelled", "cancelled_orders", numeric=True),
            Col("ordered", "ordered_minor", numeric=True),
            Col("gross revenue", "gross_revenue_minor", numeric=True),
            Col("refunds", "refunds_minor", numeric=True),
            Col("net revenue", "net_revenue_minor", numeric=True),
            Col("captured − ordered", "captured_minus_ordered_minor", numeric=True),
            Col("held authorizations", "held_authorizations", numeric=True),
            Col("held", "held_minor", numeric=True),
            Col("oldest hold (h)", "oldest_hold_hours", numeric=True),
            Col("unmatched", "unmatched_minor", numeric=True),
        ],
        unmatched=unmatched,
        unmatched_total=every_unmatched.height,
        unmatched_columns=[
            Col("currency", "currency"),
            Col("type", "type"),
            Col("severity", "severity"),
            Col("checkout", "checkout", html=True),
            Col("amount", "amount_minor", numeric=True),
        ],
        **_cash_section(finance),
    )


CASH_COLUMNS = [
    Col("currency", "currency"),
    Col("captured", "captured_minor", numeric=True),
    Col("settled lines", "settled_lines", numeric=True),
    Col("settled gross", "settled_gross_minor", numeric=True),
    Col("fees", "settled_fee_minor", numeric=True),
    Col("settled net", "settled_net_minor", numeric=True),
    Col("payouts paid", "payouts_paid", numeric=True),
    Col("paid out", "paid_out_minor", numeric=True),
    Col("waiting captures", "waiting_captures", numeric=True),
    Col("waiting", "waiting_minor", numeric=True),
]
FEE_COLUMNS = [
    Col("currency", "currency"),
    Col("lines with a scheduled fee", "fee_scheduled_lines", numeric=True),
    Col("fees charged", "fees_charged_minor", numeric=True),
    Col("fees per schedule", "fees_scheduled_minor", numeric=True),
    Col("charged − schedule", "fees_over_schedule_minor", numeric=True),
]
WAITING_COLUMNS = [
    Col("currency", "currency"),
    Col("age (settlement clock)", "age_bucket"),
    Col("captures", "captures", numeric=True),
    Col("amount", "amount_minor", numeric=True),
]
_CASH_MONEY = [
    "captured_minor",
    "settled_gross_minor",
    "settled_fee_minor",
    "settled_net_minor",
    "paid_out_minor",
    "fees_charged_minor",
    "fees_scheduled_minor",
    "fees_over_schedule_minor",
    "waiting_minor",
]


def _cash_section(finance: data.FinanceData) -> dict:
    """The finance page's cash section: its tables, and the provider's clock (None: no settlement
    report or payouts were landed for the date's read window, and the page says so)."""
    as_of = finance.settlement_as_of
    return {
        "settlement_as_of": None if as_of is None else f"{as_of:%Y-%m-%d %H:%M} UTC",
        "sla_days": finance.settlement_sla_days,
        "cash": _money_rows(finance.cash, _CASH_MONEY),
        "cash_columns": CASH_COLUMNS,
        "fee_columns": FEE_COLUMNS,
        "waiting": _money_rows(finance.waiting, ["amount_minor"]),
        "waiting_columns": WAITING_COLUMNS,
    }


FUNNEL_COLUMNS = [
    Col("views", "views", numeric=True),
    Col("starts", "starts", numeric=True),
    Col("start events", "start_events", numeric=True),
    Col("completions", "completions", numeric=True),
    Col("completion events", "completion_events", numeric=True),
    Col("orders", "orders", numeric=True),
    Col("client conversion", "client_conversion", numeric=True),
    Col("server conversion", "server_conversion", numeric=True),
]
ATTRIBUTION_COLUMNS = [
    Col("currency", "currency"),
    Col("source", "utm_source"),
    Col("campaign", "utm_campaign"),
    Col("client checkouts", "client_checkouts", numeric=True),
    Col("client revenue", "client_revenue_minor", numeric=True),
    Col("server orders", "server_orders", numeric=True),
    Col("server revenue", "server_revenue_minor", numeric=True),
    Col("gap", "gap_minor", numeric=True),
]
TREND_COLUMNS = [
    Col("business date", "business_date"),
    Col("currency", "currency"),
    Col("client revenue", "client_revenue_minor", numeric=True),
    Col("server revenue", "server_revenue_minor", numeric=True),
    Col("gap", "gap_minor", numeric=True),
]
_REVENUE = ["client_revenue_minor", "server_revenue_minor", "gap_minor"]


def build_marketing(con, day: date, files: ReportFiles) -> None:
    marketing = data.marketing(con, day)
    exports = [
        _export(files, "marketing_funnel", marketing.funnel),
        _export(files, "marketing_attribution", marketing.attribution),
        _export(files, "marketing_gap_trend", marketing.gap_trend),
    ]
    funnel_row = _funnel_row(marketing.funnel)
    currencies = marketing.attribution["currency"].unique().sort().to_list()
    files.figures["marketing"] = {
        k: funnel_row[k] for k in ("views", "starts", "completions", "orders")
    }
    conversions = {k: _pct(funnel_row[k]) for k in ("client_conversion", "server_conversion")}
    _page(
        files,
        "marketing",
        "Marketing",
        day,
        exports,
        cards=_marketing_cards(funnel_row),
        funnel_svg=charts.funnel(funnel_row),
        funnel=[funnel_row | conversions],
        funnel_columns=FUNNEL_COLUMNS,
        attribution_svgs=[charts.attribution(marketing.attribution, c) for c in currencies],
        attribution=_money_rows(marketing.attribution, _REVENUE),
        attribution_columns=ATTRIBUTION_COLUMNS,
        trend_svg=charts.gap_trend(marketing.gap_trend) if marketing.gap_trend.height else "",
        trend=_money_rows(marketing.gap_trend, _REVENUE),
        trend_columns=TREND_COLUMNS,
    )


def _funnel_row(funnel: pl.DataFrame) -> dict:
    """The day's funnel; zeros (and no conversion) for a day without a row."""
    if funnel.height:
        return funnel.row(0, named=True)
    row = dict.fromkeys(
        ("views", "starts", "start_events", "completions", "completion_events", "orders"), 0
    )
    return row | {"client_conversion": None, "server_conversion": None}


def _pct(value) -> str:
    return "–" if value is None else f"{value:.1%}"


def _marketing_cards(funnel_row: dict) -> list[dict]:
    return [
        {"label": "checkout starts", "key": "starts", "value": funnel_row["starts"]},
        {"label": "completions (client)", "key": "completions", "value": funnel_row["completions"]},
        {"label": "orders (server)", "key": "orders", "value": funnel_row["orders"]},
        {
            "label": "client conversion",
            "key": "client-conversion",
            "value": _pct(funnel_row["client_conversion"]),
        },
        {
            "label": "server conversion",
            "key": "server-conversion",
            "value": _pct(funnel_row["server_conversion"]),
        },
    ]


def bridge_closes(lines: pl.DataFrame) -> bool:
    """Each total equals the previous total plus the steps since (`revenue_bridge`)."""
    ordered = lines.select("currency", "line", "kind", "amount_minor").iter_rows()
    return not unclosed_totals(ordered)


def build_bridge(con, day: date, files: ReportFiles) -> None:
    bridge = data.bridge(con, day)
    exports = [_export(files, "revenue_bridge", bridge.lines)]
    sections = []
    closes_all = {}
    for currency in bridge.lines["currency"].unique().sort().to_list():
        lines = bridge.lines.filter(pl.col("currency") == currency)
        closes = bridge_closes(lines)
        closes_all[currency] = closes
        rows = _money_rows(lines, ["amount_minor"])
        for row in rows:
            row["explanation"] = BRIDGE_EXPLANATIONS.get(row["line"], "")
            row["is_total"] = row["kind"] == "total"
        sections.append(
            {
                "currency": currency,
                # The bridge reaches the bank where the provider's reports were landed.
                "to": "paid out" if "paid_out" in lines["line"] else "net revenue",
                "closes": closes,
                "svg": charts.waterfall(lines, currency),
                "rows": rows,
            }
        )
    files.figures["revenue_bridge"] = {
        "closes": closes_all,
        "lines": {
            (r["currency"], r["line"]): r["amount_minor"]
            for r in bridge.lines.iter_rows(named=True)
        },
    }
    _page(
        files,
        "revenue_bridge",
        "Revenue bridge",
        day,
        exports,
        bridges=sections,
        columns=[
            Col("line", "line"),
            Col("what it is", "explanation"),
            Col("amount", "amount_minor", numeric=True),
        ],
    )


def build_discrepancies(con, day: date, files: ReportFiles) -> None:
    found = data.discrepancies(con, day)
    exports = [
        _export(files, "discrepancies_by_type", found.by_type),
        _export(files, "discrepancies", data.every_discrepancy(con, day)),
        _export(files, "discrepancies_history", found.history),
    ]
    per_type = dict(found.by_type.group_by("type").agg(pl.col("discrepancies").sum()).iter_rows())
    groups: dict[str, dict] = {}
    for row in _money_rows(found.listed, ["amount_minor"]):
        row["anchor"] = _anchor(row, files.case_url)
        group = groups.setdefault(
            row["type"],
            {
                "type": row["type"],
                "severity": row["severity"],
                "total": per_type[row["type"]],
                "rows": [],
            },
        )
        group["rows"].append(row)
    by_type = _money_rows(found.by_type, ["amount_minor"])
    for row in by_type:
        row["type_link"] = f'<a href="#type-{row["type"]}">{row["type"]}</a>'
    counts = found.by_type.group_by("severity").agg(pl.col("discrepancies").sum())
    per_severity = dict(counts.iter_rows())
    total = sum(per_type.values())
    cards = [
        {"label": "discrepancies", "key": "discrepancies", "value": total},
        *(
            {"label": s, "key": f"severity-{s}", "value": per_severity.get(s, 0)}
            for s in SEVERITIES
        ),
    ]
    files.figures["discrepancies"] = {"total": total, **per_severity}
    _page(
        files,
        "discrepancies",
        "Discrepancies",
        day,
        exports,
        cards=cards,
        history_svg=charts.discrepancy_history(found.history) if found.history.height else "",
        by_type=by_type,
        by_type_columns=[
            Col("type", "type_link", html=True),
            Col("severity", "severity"),
            Col("currency", "currency"),
            Col("count", "discrepancies", numeric=True),
            Col("amount at risk", "amount_minor", numeric=True),
        ],
        groups=list(groups.values()),
        item_columns=[
            Col("checkout", "anchor", html=True),
            Col("amount", "amount_minor", numeric=True),
            Col("business date", "business_date"),
            Col("age (days)", "age_days", numeric=True),
            Col("details", "details"),
            Col("evidence (rows per source)", "evidence"),
        ],
    )


def build_cases(con, day: date, files: ReportFiles) -> None:
    """The cases page: every case of the warehouse as of now (cases span dates)."""
    now = datetime.now(UTC)
    found = cases_data.cases(con, now)
    exports = [
        _export(files, "cases_open_by_age", found.open_by_age),
        _export(files, "cases_time_to_resolve", found.time_to_resolve),
        _export(files, "cases_resolvers", found.resolvers),
    ]
    unresolved = dict(found.open_by_age.group_by("severity").agg(pl.col("total").sum()).iter_rows())
    cards = [
        {"label": "not resolved", "key": "unresolved", "value": sum(unresolved.values())},
        *(
            {"label": s, "key": f"unresolved-{s}", "value": unresolved.get(s, 0)}
            for s in SEVERITIES
        ),
    ]
    files.figures["cases"] = {"unresolved": sum(unresolved.values()), **unresolved}
    ages = [Col(name.replace("_", " "), name, numeric=True) for name, _ in cases_data.AGE_BUCKETS]
    _page(
        files,
        "cases",
        "Cases",
        day,
        exports,
        as_of=f"{now:%Y-%m-%d %H:%M} UTC",
        cards=cards,
        open_rows=found.open_by_age.to_dicts(),
        open_columns=[
            Col("severity", "severity"),
            Col("status", "status"),
            *ages,
            Col("total", "total", numeric=True),
        ],
        resolve_rows=found.time_to_resolve.to_dicts(),
        resolve_columns=[
            Col("severity", "severity"),
            Col("resolved", "resolved", numeric=True),
            Col("median (hours)", "median_hours", numeric=True),
            Col("90th percentile (hours)", "p90_hours", numeric=True),
        ],
        resolver_rows=found.resolvers.to_dicts(),
        resolver_columns=[
            Col("resolved by", "resolved_by"),
            Col("resolution", "resolution"),
            Col("cases", "cases", numeric=True),
        ],
    )


def _anchor(row: dict, case_url: str | None) -> str:
    """A discrepancy's cell: its checkout, the target of the finance page's links, and a link to
    its case page when the web page's address is known."""
    discrepancy_id = row["discrepancy_id"]
    cell = f'<span id="d-{discrepancy_id}">{html.escape(row["checkout_id"] or "–")}</span>'
    if case_url:
        cell += f' <a href="{html.escape(case_url)}/cases/{discrepancy_id}">case</a>'
    return cell


def build_index(con, day: date, files: ReportFiles) -> None:
    # The daily figures alone: the finance data also ranks every money finding (4 s at 10M).
    finance = data.finance_daily(con, day)
    cards = [
        {
            "label": f"net revenue {row['currency']}",
            "key": f"net-{row['currency']}",
            "value": format_money(row["net_revenue_minor"], row["currency"]),
        }
        for row in finance.iter_rows(named=True)
    ]
    severities = dict(
        con.execute(
            "select severity, count(*) from marts.discrepancies where _partition_date = ? "
            "group by severity",
            [day],
        ).fetchall()
    )
    cards.append(
        {"label": "discrepancies", "key": "discrepancies", "value": sum(severities.values())}
    )
    cards.append({"label": "critical", "key": "critical", "value": severities.get("critical", 0)})
    exports = sorted(p.stem for p in (files.root / "exports").glob("*.parquet"))
    _page(files, "index", "Reconciliation reports", day, exports, cards=cards)


BUILDERS = {
    "finance": build_finance,
    "marketing": build_marketing,
    "revenue_bridge": build_bridge,
    "discrepancies": build_discrepancies,
    "cases": build_cases,
}


def build_reports(
    con: duckdb.DuckDBPyConnection, day: date, out: Path, case_url: str | None = None
) -> ReportFiles:
    """Every report of `day` under `<out>/reports/`, with the index page last."""
    files = ReportFiles(out / "reports", case_url=case_url)
    files.root.mkdir(parents=True, exist_ok=True)
    for build in BUILDERS.values():
        build(con, day, files)
    build_index(con, day, files)
    return files
