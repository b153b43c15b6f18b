"""The shopper's browser: client-side analytics events, as an analytics export sees them.

Some browsers block the tracker (no event arrives), some lost the campaign's UTM parameters on a
multi-day journey, some fire `checkout_completed` as soon as "pay" is clicked (before the server
confirms), and some fire an event twice when the page retries.
"""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from testdata.simulator.profiles import Browsers

Row = dict[str, Any]
ATTRIBUTION = ("utm_source", "utm_medium", "utm_campaign", "referrer")


@dataclass(frozen=True)
class Behaviour:
    ad_blocked: bool
    lose_utm: bool
    early_completion: bool
    duplicate_events: bool

    @classmethod
    def draw(cls, rng: random.Random, shares: Browsers) -> "Behaviour":
        # Always four draws, in this order, so one browser's luck never shifts another's.
        draws = [rng.random() for _ in range(4)]
        return cls(
            draws[0] < shares.ad_blocked,
            draws[1] < shares.lose_utm,
            draws[2] < shares.early_completion,
            draws[3] < shares.duplicate_events,
        )


@dataclass
class Browser:
    index: int
    behaviour: Behaviour
    attribution: dict[str, str | None]
    events: list[Row] = field(default_factory=list)

    @property
    def anonymous_id(self) -> str:
        return f"anon_{self.index:06d}"

    @property
    def session_id(self) -> str:
        return f"sess_{self.index:06d}"

    def emit(
        self,
        name: str,
        at: datetime,
        checkout_id: str | None,
        revenue: tuple[int, str] | None = None,
    ) -> None:
        if self.behaviour.ad_blocked:
            return
        attribution = self.attribution
        if self.behaviour.lose_utm:
            attribution = {**attribution, "utm_source": None, "utm_medium": None}
            attribution["utm_campaign"] = None
        copies = 2 if self.behaviour.duplicate_events and name in _DUPLICATED else 1
        for copy in range(copies):
            occurred = at + timedelta(seconds=copy)
            self.events.append(
                {
                    "event_id": f"evt_{self.index:06d}_{len(self.events):02d}",
                    "event_name": name,
                    "anonymous_id": self.anonymous_id,
                    "session_id": self.session_id,
                    "checkout_id": checkout_id,
                    "occurred_at": occurred,
                    "received_at": occurred + timedelta(milliseconds=400),
                    **{column: attribution.get(column) for column in ATTRIBUTION},
                    "revenue_minor": revenue[0] if revenue else None,
                    "currency": revenue[1] if revenue else None,
                }
            )


# A retrying page re-fires the events that mark progress, which is what the pipeline counts.
_DUPLICATED = frozenset({"checkout_started", "checkout_completed"})
