"""The web app as finance uses it, in headless Chromium against `recon web` in its own process,
over a day the real pipeline reconciled: an operator resolves a case and finds it in the
filtered list, a rerun of the day keeps it resolved, and a reader can neither see a form nor
act by posting one."""

import re
from datetime import date

import pytest
from click.testing import CliRunner

from pipelines.cli import main
from recon.reconcile import reconcile_partition
from recon.warehouse import connect
from testdata.synthetic import MIN_CHECKOUTS, generate_landing
from tests.browser import launched_chromium
from tests.recon.web.conftest import PASSWORDS, running_recon_web

DAY = date(2026, 2, 10)


@pytest.fixture(scope="module")
def browser():
    yield from launched_chromium()


def run_the_day(landing, warehouse) -> str:
    """What the daily job does for DAY: reconcile it, then sync its cases (`recon cases sync`).
    Returns the sync's summary."""
    with connect(warehouse) as con:
        reconcile_partition(con, landing, DAY)
    synced = CliRunner().invoke(
        main, ["cases", "sync", "--date", str(DAY), "--warehouse", str(warehouse)]
    )
    assert synced.exit_code == 0, synced.output
    return synced.output


def sign_in(context, url: str, name: str):
    page = context.new_page()
    page.goto(f"{url}/cases")  # not signed in: the sign-in page, then back to the list
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/cases")
    return page


def test_an_operator_resolves_a_case_that_a_rerun_keeps_resolved_and_a_reader_cannot_act(
    browser, users_file, tmp_path
):
    from playwright.sync_api import expect

    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse.duckdb"
    generate_landing(landing, DAY, checkouts=MIN_CHECKOUTS, seed=3)  # one per anomaly scenario
    assert " opened" in run_the_day(landing, warehouse)
    errors: list[str] = []

    with running_recon_web(warehouse, users_file, tmp_path / "web.log") as url:
        operator = browser.new_context()
        page = sign_in(operator, url, "alice")
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        first = page.locator("table.cases tbody tr").first
        case_id = first.get_attribute("data-case")
        first.get_by_role("link").click()
        page.wait_for_url(f"{url}/cases/{case_id}")

        resolve = page.locator('form[data-action="resolve"]')
        resolve.get_by_label("Resolution").select_option("refunded")
        resolve.get_by_label("Note").fill("refunded by hand, PSP ticket 4411")
        resolve.get_by_role("button", name="Resolve").click()
        expect(page.get_by_role("status")).to_have_text("Resolved.")
        expect(page.locator('[data-field="status"]')).to_have_text("resolved (refunded)")
        last = page.locator("table.history tbody tr").last
        expect(last.locator(".actor")).to_have_text("alice")
        expect(last.locator(".note")).to_have_text("refunded by hand, PSP ticket 4411")

        page.get_by_role("link", name="Cases").click()
        page.get_by_label("resolved", exact=True).check()
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url(re.compile(r".*/cases\?status=resolved"))
        rows = page.locator("table.cases tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute("data-case", case_id)
        expect(rows.first.locator(".status")).to_have_text("resolved (refunded)")

        # The day again, with the server up: its connection is closed between requests.
        synced = run_the_day(landing, warehouse)
        assert "0 opened, 0 cleared, 0 reopened, 0 amount updated" in synced
        page.goto(f"{url}/cases/{case_id}")
        expect(page.locator('[data-field="status"]')).to_have_text("resolved (refunded)")
        expect(page.locator("table.history tbody tr")).to_have_count(2)  # opened, resolved
        operator.close()

        reader = browser.new_context()
        page = sign_in(reader, url, "rita")
        page.goto(f"{url}/cases/{case_id}")
        expect(page.get_by_text("an operator acts on them")).to_be_visible()
        expect(page.locator("form.action")).to_have_count(0)
        token = page.locator('form[action="/signout"] input[name="csrf"]').get_attribute("value")
        for fields in ({"csrf": token}, {}):  # with her session's token, and without
            posted = page.request.post(
                f"{url}/cases/{case_id}/reopen", form={**fields, "note": "sneaky"}
            )
            assert posted.status == 403
        page.reload()
        expect(page.locator('[data-field="status"]')).to_have_text("resolved (refunded)")
        expect(page.locator("table.history tbody tr")).to_have_count(2)
        reader.close()
    assert errors == []
