"""The routing config (YAML or TOML): channels, rules and retry policy, validated by pydantic.

Secrets are never values here: a channel names the environment variable that holds one."""

import tomllib
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from recon.discrepancy_types import SEVERITIES

# The registry's severities (`recon.discrepancy_types`); a typo in a route fails validation.
Severity = Literal[SEVERITIES]


class _Strict(BaseModel):
    # A typo in a key must fail loudly rather than silently route nothing.
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConsoleOptions(_Strict):
    stream: Literal["stdout", "stderr", "log"] = "stdout"


class JsonlOptions(_Strict):
    path: Path


class WebhookOptions(_Strict):
    url: str
    secret_env: str = Field(description="environment variable holding the HMAC-SHA256 secret")
    signature_header: str = "X-Recon-Signature"
    timestamp_header: str = "X-Recon-Timestamp"
    timeout_s: float = Field(default=10.0, gt=0)


class SlackOptions(_Strict):
    webhook_url_env: str = Field(description="environment variable holding the webhook URL")
    timeout_s: float = Field(default=10.0, gt=0)


class EmailOptions(_Strict):
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    sender: str
    recipients: list[str] = Field(min_length=1)
    username: str | None = None
    password_env: str | None = None
    starttls: bool = True
    timeout_s: float = Field(default=10.0, gt=0)


class PagerDutyOptions(_Strict):
    routing_key_env: str = Field(description="environment variable holding the routing key")
    url: str = "https://events.pagerduty.com/v2/enqueue"
    source: str = "checkout-recon"
    timeout_s: float = Field(default=10.0, gt=0)


class ConsoleChannel(_Strict):
    name: str
    type: Literal["console"]
    options: ConsoleOptions = ConsoleOptions()


class JsonlChannel(_Strict):
    name: str
    type: Literal["jsonl"]
    options: JsonlOptions


class WebhookChannel(_Strict):
    name: str
    type: Literal["webhook"]
    options: WebhookOptions


class SlackChannel(_Strict):
    name: str
    type: Literal["slack"]
    options: SlackOptions


class EmailChannel(_Strict):
    name: str
    type: Literal["email"]
    options: EmailOptions


class PagerDutyChannel(_Strict):
    name: str
    type: Literal["pagerduty"]
    options: PagerDutyOptions


ChannelConfig = Annotated[
    ConsoleChannel | JsonlChannel | WebhookChannel | SlackChannel | EmailChannel | PagerDutyChannel,
    Field(discriminator="type"),
]


class RuleConfig(_Strict):
    """Discrepancies matching every filter go to `channels`; an empty filter matches all."""

    channels: list[str] = Field(min_length=1)
    types: list[str] = []
    severities: list[Severity] = []
    min_amount_minor: int = Field(default=0, ge=0)
    # digest: one message per run and channel; each: one per discrepancy (paging, say).
    mode: Literal["digest", "each"] = "digest"
    digest_top: int = Field(default=5, ge=1)
    check_failures: bool = False

    def matches(self, type_: str, severity: str, amount_minor: int | None) -> bool:
        if self.types and type_ not in self.types:
            return False
        if self.severities and severity not in self.severities:
            return False
        # No amount (a reservation, an analytics event) only passes a rule without a minimum.
        return self.min_amount_minor == 0 or (amount_minor or 0) >= self.min_amount_minor


class RetryConfig(_Strict):
    attempts: int = Field(default=3, ge=1, le=20)
    base_delay_s: float = Field(default=1.0, ge=0)
    max_delay_s: float = Field(default=30.0, ge=0)
    # How long a notice that exhausted its attempts waits before a later run tries again.
    requeue_after_s: float = Field(default=60.0, ge=0)

    def delay(self, attempt: int) -> float:
        return min(self.base_delay_s * 2 ** (attempt - 1), self.max_delay_s)


class AlertConfig(_Strict):
    channels: list[ChannelConfig] = Field(min_length=1)
    rules: list[RuleConfig] = Field(min_length=1)
    retry: RetryConfig = RetryConfig()

    @model_validator(mode="after")
    def _names(self) -> "AlertConfig":
        names = [channel.name for channel in self.channels]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"channels: duplicate channel name(s) {duplicates}")
        for index, rule in enumerate(self.rules):
            unknown = sorted(set(rule.channels) - set(names))
            if unknown:
                raise ValueError(f"rules.{index}.channels: unknown channel(s) {unknown}")
        return self

    def channel(self, name: str) -> ChannelConfig:
        return next(channel for channel in self.channels if channel.name == name)


def default_config() -> AlertConfig:
    """Console only: everything, digested, check failures included."""
    return AlertConfig(
        channels=[ConsoleChannel(name="console", type="console")],
        rules=[RuleConfig(channels=["console"], check_failures=True)],
    )


def load_config(path: Path | str | None) -> AlertConfig:
    """Read a `.yaml`/`.yml` or `.toml` file; no path gives the console-only default."""
    if path is None:
        return default_config()
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        data = tomllib.loads(text)
    elif path.suffix in (".yaml", ".yml"):
        data = yaml.safe_load(text) or {}
    else:
        raise ValueError(f"{path}: alert config must be .yaml, .yml or .toml")
    return AlertConfig.model_validate(data)
