"""The report charts: Altair specifications rendered to inline SVG by vl-convert, offline.

Amounts are plotted in major units (a chart axis is not a ledger); the tables beside each
chart carry the exact minor-unit figures."""

import altair as alt
import polars as pl
import vl_convert

from recon.currencies import exponent
from recon.discrepancy_types import SEVERITIES

SEVERITY_COLOURS = alt.Scale(
    domain=list(SEVERITIES),
    range=["#b42318", "#dc6803", "#eaaa08", "#98a2b3"],
)


def to_svg(chart: alt.TopLevelMixin) -> str:
    return vl_convert.vegalite_to_svg(chart.to_dict())


def _major(amount_minor: int, currency: str) -> float:
    return float(amount_minor) / 10 ** exponent(currency)


def funnel(funnel_row: dict) -> str:
    steps = pl.DataFrame(
        {
            "step": ["views", "checkout starts", "completions (client)", "orders (server)"],
            "checkouts": [
                funnel_row["views"],
                funnel_row["starts"],
                funnel_row["completions"],
                funnel_row["orders"],
            ],
        }
    )
    chart = (
        alt.Chart(steps, title="Checkout funnel")
        .mark_bar(color="#2e90fa")
        .encode(
            x=alt.X("checkouts:Q", title="count"),
            y=alt.Y("step:N", sort=None, title=None),
            tooltip=["step", "checkouts"],
        )
        .properties(width=520, height=160)
    )
    labels = chart.mark_text(align="left", dx=4).encode(text="checkouts:Q")
    return to_svg(chart + labels)


def waterfall(lines: pl.DataFrame, currency: str) -> str:
    """The bridge as a horizontal waterfall: totals from zero, steps from the running total."""
    rows, running = [], 0
    for line in lines.filter(pl.col("currency") == currency).iter_rows(named=True):
        amount = _major(line["amount_minor"], currency)
        if line["kind"] == "total":
            start, end, running = 0.0, amount, amount
            shade = "total"
        else:
            start, end = running, running + amount
            running = end
            shade = "increase" if amount >= 0 else "decrease"
        rows.append({"line": line["line"], "start": start, "end": end, "shade": shade})
    frame = pl.DataFrame(rows)
    chart = (
        alt.Chart(frame, title=f"Revenue bridge ({currency})")
        .mark_bar()
        .encode(
            y=alt.Y("line:N", sort=None, title=None),
            x=alt.X("start:Q", title=f"{currency}"),
            x2="end:Q",
            color=alt.Color(
                "shade:N",
                scale=alt.Scale(
                    domain=["total", "increase", "decrease"],
                    range=["#344054", "#12b76a", "#f04438"],
                ),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
        )
        # A bar of about 22 px each: the bridge runs on to paid out when cash data landed.
        .properties(width=560, height=max(380, 22 * len(rows)))
    )
    return to_svg(chart)


def attribution(frame: pl.DataFrame, currency: str) -> str:
    """Client- against server-attributed revenue by source, for one currency."""
    rows = []
    for row in frame.filter(pl.col("currency") == currency).iter_rows(named=True):
        for side, column in (
            ("client", "client_revenue_minor"),
            ("server", "server_revenue_minor"),
        ):
            rows.append(
                {
                    "source": row["utm_source"],
                    "side": side,
                    "revenue": _major(row[column], currency),
                }
            )
    data = pl.DataFrame(rows).group_by("source", "side").agg(pl.col("revenue").sum())
    chart = (
        alt.Chart(data, title=f"Attributed revenue by source ({currency})")
        .mark_bar()
        .encode(
            y=alt.Y("source:N", title=None),
            yOffset="side:N",
            x=alt.X("revenue:Q", title=currency),
            color=alt.Color(
                "side:N",
                scale=alt.Scale(domain=["client", "server"], range=["#f79009", "#2e90fa"]),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
        )
        .properties(width=520, height=alt.Step(14))
    )
    return to_svg(chart)


def gap_trend(trend: pl.DataFrame) -> str:
    data = trend.with_columns(
        pl.struct("gap_minor", "currency")
        .map_elements(lambda r: _major(r["gap_minor"], r["currency"]), return_dtype=pl.Float64)
        .alias("gap")
    )
    chart = (
        alt.Chart(data, title="Server minus client revenue, by business date")
        .mark_line(point=True)
        .encode(
            x=alt.X("business_date:T", title=None),
            y=alt.Y("gap:Q", title="major units"),
            color=alt.Color("currency:N", legend=alt.Legend(orient="bottom")),
        )
        .properties(width=520, height=200)
    )
    return to_svg(chart)


def discrepancy_history(history: pl.DataFrame) -> str:
    chart = (
        alt.Chart(history, title="Discrepancies by business date")
        .mark_bar()
        .encode(
            x=alt.X("business_date:T", title=None, timeUnit="utcyearmonthdate"),
            y=alt.Y("discrepancies:Q", stack=True),
            color=alt.Color(
                "severity:N", scale=SEVERITY_COLOURS, legend=alt.Legend(orient="bottom")
            ),
        )
        .properties(width=520, height=200)
    )
    return to_svg(chart)
