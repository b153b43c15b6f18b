"""PagerDuty Events API v2: one event per discrepancy, `dedup_key` = discrepancy_id, so a
resolve closes exactly the incident its trigger opened (and a resent trigger is merged)."""

import json

from recon.alerts.channels.base import post, secret
from recon.alerts.config import PagerDutyOptions
from recon.alerts.notices import Item, Notice

# PagerDuty knows critical, error, warning and info.
_SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info"}


def events(notice: Notice, routing_key: str, source: str) -> list[dict]:
    if notice.kind == "check_failed":
        return [
            {
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": f"check:{notice.business_date}:{check.name}",
                "payload": {
                    "summary": f"recon {notice.business_date}: check {check.name} failed"[:1024],
                    "source": source,
                    "severity": "error",
                    "custom_details": {"description": check.description},
                },
            }
            for check in notice.checks
        ]
    listed = {item.discrepancy_id: item for item in notice.items}
    ids = notice.discrepancy_ids or tuple(listed)
    if notice.kind == "resolve":
        return [
            {"routing_key": routing_key, "event_action": "resolve", "dedup_key": d} for d in ids
        ]
    return [_trigger(notice, listed.get(d), d, routing_key, source) for d in ids]


def _trigger(notice: Notice, item: Item | None, dedup_key: str, key: str, source: str) -> dict:
    # An escalation re-triggers the discrepancy's own incident: PagerDuty's escalation policy
    # takes it from there, and the discrepancy's resolve still closes it.
    overdue = "overdue " if notice.kind == "escalate" else ""
    summary = f"recon {notice.business_date}: {overdue}discrepancy {dedup_key}"
    details: dict = {"discrepancy_id": dedup_key, "business_date": str(notice.business_date)}
    severity = "error"
    if item is not None:
        summary = (
            f"recon {notice.business_date}: {overdue}{item.severity} {item.type} "
            f"{item.amount_minor} {item.currency} (checkout {item.checkout_id})"
        )
        details |= {
            "type": item.type,
            "severity": item.severity,
            "checkout_id": item.checkout_id,
            "amount_minor": item.amount_minor,
            "currency": item.currency,
        }
        severity = _SEVERITY[item.severity]
    return {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": summary[:1024],
            "source": source,
            "severity": severity,
            "custom_details": details,
        },
    }


class PagerDutySender:
    # One event per discrepancy, digests included: delivery fills in every ID a digest covers.
    needs_discrepancy_ids = True

    def __init__(self, options: PagerDutyOptions) -> None:
        self.options = options

    def send(self, notice: Notice) -> None:
        key = secret(self.options.routing_key_env)
        # Resending after a partial failure is safe: PagerDuty merges events by dedup_key.
        for event in events(notice, key, self.options.source):
            body = json.dumps(event).encode()
            post(
                self.options.url, body, {"Content-Type": "application/json"}, self.options.timeout_s
            )
