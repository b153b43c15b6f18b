"""The discrepancy types the settlement rules find, from a payment provider's settlement report
and payouts (the cash side): a day without those reports finds none of them."""

SETTLEMENT_TYPES = frozenset({
    "settlement_without_capture",
    "duplicate_settlement",
    "payout_mismatch",
    "capture_not_settled",
    "settlement_amount_mismatch",
    "chargeback",
    "fee_mismatch",
})  # fmt: skip
