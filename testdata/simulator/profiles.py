"""Simulation profiles: network faults for the safe path, and the share of each anomaly source.

`clean` injects network faults and crashes only, with every client safe and a provider that
settles and pays out every capture and refund as agreed: whatever it produces must reconcile
without a money discrepancy. `realistic` adds browser analytics trouble, a few unsafe retries and
a provider that gets a few settlements wrong; `chaos` turns everything up.
"""

from dataclasses import dataclass, field

from testdata.faults import StepFaults


@dataclass(frozen=True)
class Browsers:
    """Shares (0..1) of browsers with each client-side analytics behaviour."""

    ad_blocked: float = 0.0
    lose_utm: float = 0.0
    early_completion: float = 0.0
    duplicate_events: float = 0.0


@dataclass(frozen=True)
class ProviderFaults:
    """What the payment provider gets wrong in each lane's settlement report and payouts
    (`testdata.simulator.provider`).

    The shares are of the lane's checkouts, at least one each where above 0 (as far as the
    lane has clean captures to spare): captures the provider never settles (only of captures
    made before 12:00, so the SLA has run out when the report is reconciled), settles twice,
    settles 100 short, charges 7 above its fee schedule, sees charged back, or sees charged back
    and reversed (a dispute won: no finding).
    """

    not_settled: float = 0.0
    settled_twice: float = 0.0
    settled_short: float = 0.0
    fee_overcharged: float = 0.0
    charged_back: float = 0.0
    charged_back_reversed: float = 0.0
    # Once per lane's report: a charge line no capture of ours names, and the payout arriving on
    # the business date paid short.
    foreign_charge: bool = False
    short_payout: bool = False

    @classmethod
    def each(cls, share: float) -> "ProviderFaults":
        """Every fault: `share` of the checkouts for each, and both report-wide ones."""
        return cls(share, share, share, share, share, share, True, True)


@dataclass(frozen=True)
class Profile:
    name: str
    faults: dict[str, StepFaults]
    browsers: Browsers = Browsers()
    # Share of checkouts with campaign attribution (the rest is direct traffic).
    campaign: float = 0.7
    # Share of checkouts paid with a card the PSP declines.
    declined: float = 0.08
    # Share of completed checkouts the shopper cancels later (safely: no discrepancy).
    cancelled: float = 0.05
    # Share of checkouts per unsafe behaviour (see `unsafe.py`): fresh_key_retry,
    # duplicate_order, skip_void, skip_release, cancel_race, double_refund.
    unsafe: dict[str, float] = field(default_factory=dict)
    # What the payment provider gets wrong in its settlement report and payouts.
    provider: ProviderFaults = ProviderFaults()


_NETWORK = {
    "*": StepFaults(lose_response=0.1, fail_before=0.1, latency=0.2, crash_after=0.05),
    "payment.authorize": StepFaults(
        lose_response=0.2, fail_before=0.1, latency=0.3, crash_after=0.1
    ),
    "payment.capture": StepFaults(lose_response=0.2, fail_before=0.1),
}
_HEAVY = {
    "*": StepFaults(lose_response=0.25, fail_before=0.25, latency=0.5, crash_after=0.15),
}

PROFILES: dict[str, Profile] = {
    "clean": Profile("clean", _NETWORK),
    "realistic": Profile(
        "realistic",
        _NETWORK,
        Browsers(ad_blocked=0.3, lose_utm=0.1, early_completion=0.1, duplicate_events=0.05),
        unsafe={
            "fresh_key_retry": 0.03,
            "duplicate_order": 0.02,
            "skip_void": 0.02,
            "skip_release": 0.02,
            "cancel_race": 0.02,
            "double_refund": 0.01,
        },
        provider=ProviderFaults.each(0.01),
    ),
    "chaos": Profile(
        "chaos",
        _HEAVY,
        Browsers(ad_blocked=0.35, lose_utm=0.2, early_completion=0.2, duplicate_events=0.15),
        declined=0.15,
        cancelled=0.1,
        unsafe={
            "fresh_key_retry": 0.06,
            "duplicate_order": 0.05,
            "skip_void": 0.05,
            "skip_release": 0.05,
            "cancel_race": 0.05,
            "double_refund": 0.03,
        },
        provider=ProviderFaults.each(0.02),
    ),
}
