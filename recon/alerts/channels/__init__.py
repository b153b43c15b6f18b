"""Delivery channels: each turns a notice into one message (or, for PagerDuty, events) and
raises `DeliveryError` when the far end did not take it."""

from recon.alerts.channels.base import Channel, DeliveryError, secret
from recon.alerts.channels.console import ConsoleSender
from recon.alerts.channels.email import EmailSender
from recon.alerts.channels.jsonl import JsonlSender
from recon.alerts.channels.pagerduty import PagerDutySender
from recon.alerts.channels.slack import SlackSender
from recon.alerts.channels.webhook import WebhookSender
from recon.alerts.config import ChannelConfig

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
