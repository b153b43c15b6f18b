"""Notices as stored in the outbox, and the column-wise list of discrepancies a run reports."""

import json
from datetime import date

import pyarrow as pa

from recon.alerts.notices import Discrepancies, Item, Notice

DAY = date(2026, 2, 10)
ITEMS = [
    Item("d-3", "amount_mismatch", "high", "chk_3", 7_000, "USD"),
    Item("d-1", "duplicate_charge", "critical", "chk_1", 50_000, "EUR"),
    Item("d-5", "orphaned_reservation", "medium", "chk_5", None, None),
    Item("d-2", "phantom_completion", "low", "chk_2", 0, "EUR"),
    Item("d-4", "phantom_completion", "low", None, 7_000, "EUR"),
]


def test_a_digest_payload_carries_no_id_list_and_an_old_one_still_loads():
    digest = Notice("n1", "team", "new", DAY, "digest", items=tuple(ITEMS[:2]), total=5)
    data = json.loads(digest.to_json())
    assert "discrepancy_ids" not in data
    assert Notice.from_json(digest.to_json()) == digest

    # Written before alerts.notice_items became the record: every ID in the payload.
    data["discrepancy_ids"] = ["d-1", "d-2", "d-3", "d-4", "d-5"]
    old = Notice.from_json(json.dumps(data))
    assert old.discrepancy_ids == ("d-1", "d-2", "d-3", "d-4", "d-5")
    assert old.items == digest.items and old.total == 5


def test_a_per_discrepancy_payload_still_names_its_discrepancy():
    each = Notice("n2", "pager", "new", DAY, "each", items=(ITEMS[1],), discrepancy_ids=("d-1",))
    assert json.loads(each.to_json())["discrepancy_ids"] == ["d-1"]
    assert Notice.from_json(each.to_json()) == each


def test_discrepancies_count_list_and_rank_without_a_python_object_each():
    table = pa.Table.from_pylist([vars(item) for item in ITEMS])
    found = Discrepancies(table)

    assert len(found) == 5 and bool(found)
    assert [item.discrepancy_id for item in found] == ["d-1", "d-2", "d-3", "d-4", "d-5"]
    assert found == sorted(ITEMS, key=lambda item: item.discrepancy_id)
    assert found[0] == ITEMS[1] and found[-1] == ITEMS[2]
    assert [item.discrepancy_id for item in found[1:3]] == ["d-2", "d-3"]
    # Largest first, ties by ID, no amount and zero last.
    assert [item.discrepancy_id for item in found.largest(4)] == ["d-1", "d-3", "d-4", "d-2"]
    assert found.largest(10)[-2:] == [ITEMS[3], ITEMS[2]]
    assert Discrepancies() == [] and len(Discrepancies()) == 0 and not Discrepancies()
    assert Discrepancies().largest(3) == []
