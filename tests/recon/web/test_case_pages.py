"""The pages that read: the work list with its filters and pages, and a case with its facts,
evidence and history."""

import re

import duckdb
import pytest

from tests.recon.cases.conftest import CHARGE, DAY, MISMATCH, OLD_CHARGE, RESERVATION, UNATTRIBUTED
from tests.recon.web.conftest import error_of

ALL = [OLD_CHARGE, CHARGE, MISMATCH, RESERVATION, UNATTRIBUTED]  # most severe, then oldest


def listed(page) -> list[str]:
    assert page.status_code == 200, page.text
    return re.findall(r'<tr data-case="([0-9a-f]+)">', page.text)


def test_the_list_shows_every_case_most_severe_and_oldest_first(site):
    page = site.visitor("rita").get("/cases")
    assert listed(page) == [f.id for f in ALL]
    row = re.search(rf'<tr data-case="{MISMATCH.id}">(.*?)</tr>', page.text, re.S)[1]
    cells = [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]
    assert cells == [
        MISMATCH.id[:12],
        "amount_mismatch",
        "high",
        "EUR 12.34",
        "open",
        "bob",
        str(DAY),
        "5h 0m",
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=resolved", [RESERVATION]),
        ("status=open&status=resolved", ALL),
        ("severity=critical", [OLD_CHARGE, CHARGE]),
        ("type=amount_mismatch", [MISMATCH]),
        ("older_than=3", [OLD_CHARGE]),
        ("assignee=bob", [MISMATCH]),
        ("assignee=-&severity=critical&severity=high", [OLD_CHARGE, CHARGE]),
        # What the filter form sends when only the status is chosen: empty fields filter nothing.
        ("status=open&type=&assignee=&older_than=", [OLD_CHARGE, CHARGE, MISMATCH, UNATTRIBUTED]),
        ("status=cleared", []),
    ],
)
def test_the_list_filters(site, query, expected):
    page = site.visitor("rita").get(f"/cases?{query}")
    assert listed(page) == [f.id for f in expected]
    if not expected:
        assert "No case matches these filters." in page.text


def test_the_filter_form_shows_the_filters_in_force(site):
    page = site.visitor("rita").get("/cases?status=open&severity=high&assignee=bob&older_than=2")
    assert '<input type="checkbox" name="status" value="open" checked>' in page.text
    assert '<input type="checkbox" name="status" value="resolved">' in page.text
    assert '<input type="checkbox" name="severity" value="high" checked>' in page.text
    assert '<option value="bob" selected>bob</option>' in page.text
    assert 'name="older_than" min="0" step="any" size="4" value="2"' in page.text


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("status=closed", "status.0: Input should be"),
        ("type=double_charge", "type: Value error, double_charge: not a discrepancy type"),
        ("older_than=-1", "older_than: Input should be greater than or equal to 0"),
        ("page=zero", "page: Input should be a valid integer"),
    ],
)
def test_a_bad_filter_is_a_400_that_says_which(site, query, says):
    page = site.visitor("rita").get(f"/cases?{query}")
    assert page.status_code == 400
    assert error_of(page).replace("&#39;", "'").startswith(says.replace("Value error, ", ""))


def test_the_list_pages_keep_the_filters(make_site):
    site = make_site(page_size=2)
    visitor = site.visitor("rita")
    first = visitor.get("/cases?status=open")
    assert listed(first) == [OLD_CHARGE.id, CHARGE.id]
    assert "4 cases, 1–2 shown" in first.text
    following = re.search(r'<a rel="next" href="([^"]+)"', first.text)[1]
    assert following == "/cases?status=open&amp;page=2"
    second = visitor.get(following.replace("&amp;", "&"))
    assert listed(second) == [MISMATCH.id, UNATTRIBUTED.id]
    assert 'rel="next"' not in second.text
    assert listed(visitor.get("/cases?status=open&page=9")) == [MISMATCH.id, UNATTRIBUTED.id]


def test_a_case_page_shows_the_discrepancy_state_and_history(site):
    page = site.visitor("rita").get(f"/cases/{MISMATCH.id}")
    assert page.status_code == 200
    facts = dict(re.findall(r"<dt>(.*?)</dt><dd[^>]*>(.*?)</dd>", page.text))
    assert facts["Type"] == "amount_mismatch"
    assert "high" in facts["Severity"]
    assert facts["Amount"] == "EUR 12.34"
    assert facts["Checkout"] == MISMATCH.checkout_id
    assert facts["Business date"] == str(DAY)
    assert facts["Status"] == "open"
    assert facts["Assignee"] == "bob"
    history = re.findall(
        r'<td class="actor">(.*?)</td>\s*<td class="what">(.*?)</td>', page.text, re.S
    )
    assert history == [("recon", "opened"), ("alice", "assigned")]
    assert "No evidence recorded." in page.text


def test_a_case_page_lists_the_evidence_when_the_warehouse_has_it(site):
    with duckdb.connect(str(site.warehouse)) as con:
        con.execute(
            "create table marts.discrepancy_evidence (discrepancy_id varchar, amount_minor bigint, "
            "source varchar, source_file varchar, line bigint)"
        )
        con.execute(
            "insert into marts.discrepancy_evidence values (?, 1234, 'payments', "
            "'payments/2026-02-10/psp.csv', 17), (?, 99, 'orders', 'x.csv', 1)",
            [MISMATCH.id, CHARGE.id],
        )
    page = site.visitor("rita").get(f"/cases/{MISMATCH.id}")
    table = re.search(r'<table class="evidence">(.*?)</table>', page.text, re.S)[1]
    assert re.findall(r"<th>(.*?)</th>", table) == ["source", "source_file", "line", "amount_minor"]
    assert re.findall(r"<td>(.*?)</td>", table) == [
        "payments",
        "payments/2026-02-10/psp.csv",
        "17",
        "1234",
    ]
    assert "No evidence recorded." not in page.text


def test_a_case_is_found_by_a_prefix_of_its_id(site):
    visitor = site.visitor("rita")
    moved = visitor.get(f"/cases/{CHARGE.id[:10]}")
    assert moved.status_code == 303 and moved.headers["location"] == f"/cases/{CHARGE.id}"
    missing = visitor.get("/cases/0000000000")
    assert missing.status_code == 404
    assert error_of(missing) == "no case &#39;0000000000&#39; in this warehouse"


def test_pages_forbid_framing_scripts_and_caching(site):
    page = site.visitor("rita").get("/cases")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text
