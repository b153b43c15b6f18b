"""Delivery channels: each turns a notice into one message (or, for PagerDuty, events) and
raises `DeliveryError` when the far end did not take it."""

from pipelines.alerts.channels.base import Channel, DeliveryError, secret
from pipelines.alerts.channels.console import ConsoleSender
from pipelines.alerts.channels.email import EmailSender
from pipelines.alerts.channels.jsonl import JsonlSender
from pipelines.alerts.channels.pagerduty import PagerDutySender
from pipelines.alerts.channels.slack import SlackSender
from pipelines.alerts.channels.webhook import WebhookSender
from pipelines.alerts.config import ChannelConfig

_SENDERS = {
    "console": ConsoleSender,
    "jsonl": JsonlSender,
    "webhook": WebhookSender,
    "slack": SlackSender,
    "email": EmailSender,
    "pagerduty": PagerDutySender,
}


def build_channel(config: ChannelConfig) -> Channel:
    return _SENDERS[config.type](config.options)


__all__ = ["Channel", "DeliveryError", "build_channel", "secret"]
