"""The day the adapter tests reconcile end to end, 2026-03-10: three checkouts from a newsletter
campaign, #1001 paid once, #1002 never charged and #1003 charged twice (a retried payment); the
exports' rows of it and what reconciling it finds."""

from datetime import UTC, date, datetime

from tests.recon.adapters.provider_exports import shopify_order, stripe_charge

DAY = date(2026, 3, 10)
LANDING_SITE = "/?utm_source=newsletter&utm_medium=email&utm_campaign=spring"
AT_10 = 1773136800  # 2026-03-10 10:00:00 UTC
RESERVED = datetime(2026, 3, 10, 10, 0, 5, tzinfo=UTC)  # #1001's stock reserved
# The findings of the day, as (type, checkout_id, amount_minor), sorted.
FINDINGS = [("duplicate_charge", "5003", 4990), ("order_without_payment", "5002", 4990)]
# The optional cash sources have no folder on the day: read, and empty.
NO_CASH_ROWS = {"settlements": 0, "payouts": 0}


def shopify_orders(items: list[tuple[str, int, str]]) -> list[dict]:
    """The three orders' rows of a Shopify orders export, each with the line `items`."""
    orders = []
    for name, order_id, clock in (("#1001", "5001", "10:00"), ("#1002", "5002", "10:10"),
                                  ("#1003", "5003", "10:20")):  # fmt: skip
        orders += shopify_order(
            name, order_id, f"2026-03-10 {clock}:30 +0000", items,
            subtotal="49.90", taxes="7.97", total="49.90", landing_site=LANDING_SITE,
        )  # fmt: skip
    return orders


def stripe_charges() -> list[dict]:
    """#1001's charge and #1003's two, in a Stripe charges export."""
    return [
        stripe_charge("ch_1", "5001", 4990, AT_10 + 10),
        stripe_charge("ch_3a", "5003", 4990, AT_10 + 1210),
        stripe_charge("ch_3b", "5003", 4990, AT_10 + 1250),
    ]


def inventory_moves() -> list[dict]:
    """#1001's stock, reserved and committed, in the contract's own format."""
    return [
        {"move_id": f"mv_{kind}", "checkout_id": "5001", "reservation_id": "res_1",
         "idempotency_key": f"5001:inventory.{kind}", "sku": "SKU-TEE", "quantity": 1,
         "kind": kind, "created_at": RESERVED.replace(second=5 + n)}
        for n, kind in enumerate(("reserve", "commit"))
    ]  # fmt: skip


def findings(found: list[dict]) -> list[tuple[str, str, int]]:
    """(type, checkout_id, amount_minor) of each finding, sorted, as FINDINGS holds them."""
    return sorted((d["type"], d["checkout_id"], d["amount_minor"]) for d in found)
