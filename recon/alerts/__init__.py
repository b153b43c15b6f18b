"""Alerting: new and resolved discrepancies of a partition, routed to on-call channels through
a deduplicating outbox in the warehouse (issue 4)."""

from recon.alerts.config import AlertConfig, default_config, load_config
from recon.alerts.planning import PartitionNotReconciled
from recon.alerts.run import AlertRun, enqueue_check_failures, run_alerts

__all__ = [
    "AlertConfig",
    "AlertRun",
    "PartitionNotReconciled",
    "default_config",
    "enqueue_check_failures",
    "load_config",
    "run_alerts",
]
