"""The reports as a person opens them: from disk, in headless Chromium, with no network."""

import pytest

from recon.currencies import format_money
from tests.browser import launched_chromium


@pytest.fixture(scope="module")
def browser():
    yield from launched_chromium()


CHARTED = {"marketing": 1 + 1, "revenue_bridge": 1, "discrepancies": 1}


@pytest.mark.slow
@pytest.mark.parametrize(
    "page_name", ["index", "finance", "marketing", "revenue_bridge", "discrepancies"]
)
def test_page_renders_offline_with_charts_figures_and_no_console_errors(
    browser, day_of_reports, tmp_path, page_name
):
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(day_of_reports.files.pages[page_name].as_uri())
    page.screenshot(path=str(tmp_path / f"{page_name}.png"), full_page=True)

    assert errors == []
    assert all(url.startswith("file://") for url in requests), requests  # nothing fetched
    charts = page.locator(".chart svg")
    assert charts.count() >= CHARTED.get(page_name, 0)
    for index in range(charts.count()):
        box = charts.nth(index).bounding_box()
        assert box and box["width"] > 100 and box["height"] > 50
        assert charts.nth(index).locator("path, rect").count() > 0  # something was drawn
    if page_name in ("index", "finance"):
        for currency, figures in day_of_reports.oracle.finance().items():
            shown = page.locator(f'[data-figure="net-{currency}"]').inner_text()
            assert shown == format_money(figures["net_revenue_minor"], currency)
    if page_name == "marketing":
        funnel = day_of_reports.oracle.funnel()
        assert page.locator('[data-figure="starts"]').inner_text() == str(funnel["starts"])
        assert page.locator('[data-figure="orders"]').inner_text() == str(funnel["orders"])
    if page_name == "revenue_bridge":
        closes = page.locator('[data-figure^="closes-"]')
        assert closes.count() > 0
        assert all(closes.nth(i).inner_text() == "yes" for i in range(closes.count()))
    context.close()
