"""Resuming sagas a crash (or an unknown outcome) stopped part-way.

A saga whose runner is gone (no lease, or one past `saga_lease`) is driven on from its last
recovery point: forward to completion, or through its compensations, or through a started
cancellation. Every call it repeats carries the same `{checkout_id}:{step}` key, so resuming
never adds a second effect.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from checkout_service.orchestrator.clients import OutcomeUnknown
from checkout_service.orchestrator.runtime import Orchestrator
from checkout_service.orchestrator.saga import SagaBusy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recovered:
    checkout_id: str
    # the checkout's status afterwards, or "busy" / "unknown" when it could not move yet
    outcome: str


def recover(orch: Orchestrator, give_up_after: timedelta | None = None) -> list[Recovered]:
    """Resume every saga without a live runner. A pending saga older than `give_up_after` whose
    step outcome is still unknown is abandoned: compensated and answered 504."""
    results = []
    now = orch.clock()
    for checkout_id in orch.saga_store.resumable(now):
        before = orch.saga_store.load(checkout_id)
        try:
            if before.status == "cancelling":
                orch.runner.cancel(checkout_id)
            elif before.status == "pending" and _overdue(before.created_at, now, give_up_after):
                try:
                    orch.runner.run(checkout_id)
                except OutcomeUnknown:
                    orch.runner.abandon(checkout_id)
            else:
                orch.runner.run(checkout_id)
        except SagaBusy:
            results.append(Recovered(checkout_id, "busy"))
            continue
        except OutcomeUnknown as error:
            log.warning("saga %s still undecided: %s", checkout_id, error)
            results.append(Recovered(checkout_id, "unknown"))
            continue
        results.append(Recovered(checkout_id, orch.saga_store.load(checkout_id).status))
    return results


def _overdue(created_at: datetime, now: datetime, give_up_after: timedelta | None) -> bool:
    return give_up_after is not None and created_at + give_up_after <= now
