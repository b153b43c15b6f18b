"""The bridge's arithmetic that its report and its asset check share."""

from recon.revenue_bridge import unclosed_totals


def test_a_bridge_whose_steps_add_up_closes_in_every_currency():
    lines = [
        ("EUR", "ordered", "total", 100),
        ("EUR", "cancelled", "step", -30),
        ("EUR", "net", "total", 70),
        ("USD", "ordered", "total", 5),
        ("USD", "net", "total", 5),
    ]
    assert unclosed_totals(lines) == []


def test_a_total_the_steps_do_not_reach_is_named_with_both_figures():
    lines = [
        ("EUR", "ordered", "total", 100),
        ("EUR", "cancelled", "step", -30),
        ("EUR", "net", "total", 71),
        ("USD", "ordered", "total", 100),  # another currency starts afresh
        ("USD", "net", "total", 100),
    ]
    assert unclosed_totals(lines) == [("EUR", "net", "steps reach 70, total is 71")]
