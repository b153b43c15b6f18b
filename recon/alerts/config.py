"""The routing config (YAML or TOML): channels, rules and retry policy, validated by pydantic.

Secrets are never values here: a channel names the environment variable that holds one."""

import base64
import binascii
import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from recon.discrepancy_types import SEVERITIES, type_names

# The registry's severities (`recon.discrepancy_types`); a typo in a route fails validation.
Severity = Literal[SEVERITIES]


class _Strict(BaseModel):
    # A typo in a key must fail loudly rather than silently route nothing.
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConsoleOptions(_Strict):
    stream: Literal["stdout", "stderr", "log"] = "stdout"


class JsonlOptions(_Strict):
    path: Path


_SECRET_PREFIX = "whsec_"
_BASE64 = re.compile(r"[A-Za-z0-9+/]*")
# The specification's bounds for a symmetric signing key: 24 to 64 random bytes (192-512 bits).
_KEY_BYTES = (24, 64)
GENERATE_SECRET = (
    'python -c "import base64, secrets; '
    "print('whsec_' + base64.b64encode(secrets.token_bytes(32)).decode())\""
)


def _standard_webhook_key(value: object) -> bytes:
    """The HMAC key of a Standard Webhooks secret, `whsec_<base64>`. The prefix is required: the
    specification's libraries also take bare base64, but then a plain (say hex) shared secret of
    the `recon` scheme would silently turn into a different key instead of failing with a hint.
    Standard base64 only (padding optional), as every library decodes it alike. The messages
    never quote the value."""
    if not isinstance(value, str):
        raise PydanticCustomError("standard_webhook_secret", "a secret must be a string")
    value = value.strip()  # a trailing newline from a secrets file is not part of the key
    if not value.startswith(_SECRET_PREFIX):
        raise PydanticCustomError(
            "standard_webhook_secret",
            "not a Standard Webhooks secret: it must start with `whsec_` followed by base64 "
            "(a bare base64 key: put `whsec_` in front; to keep a plain shared secret, set "
            "`signing: recon`; a new secret: {generate})",
            {"generate": GENERATE_SECRET},
        )
    encoded = value.removeprefix(_SECRET_PREFIX).rstrip("=")
    try:
        if not _BASE64.fullmatch(encoded):
            raise binascii.Error
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise PydanticCustomError(
            "standard_webhook_secret",
            "not a Standard Webhooks secret: after `whsec_` must come standard base64 "
            "(A-Z, a-z, 0-9, + and /, optional = padding)",
        ) from None
    low, high = _KEY_BYTES
    if not low <= len(key) <= high:
        raise PydanticCustomError(
            "standard_webhook_secret",
            "a Standard Webhooks secret must hold {low} to {high} random bytes, this one holds "
            "{size} (a new secret: {generate})",
            {"low": low, "high": high, "size": len(key), "generate": GENERATE_SECRET},
        )
    return key


# Validated when the webhook channel reads its secret from the environment (`secret_env`): the
# config never holds the value, so a bad one fails the delivery, naming the variable.
StandardWebhookSecret = Annotated[bytes, BeforeValidator(_standard_webhook_key)]


class WebhookOptions(_Strict):
    url: str
    secret_env: str = Field(
        description="environment variable holding the signing secret: for `signing: standard`, "
        "`whsec_` followed by the base64 of 24 to 64 random bytes, the form receivers' Standard "
        "Webhooks libraries take (a bare base64 key is refused: prefix it with `whsec_`); for "
        "`signing: recon`, any string, used as it is"
    )
    signing: Literal["standard", "recon"] = Field(
        default="standard",
        description="`standard` (the default): Standard Webhooks (www.standardwebhooks.com), "
        "headers `webhook-id` (the notice ID, the same on every retry of a notice), "
        "`webhook-timestamp` (Unix seconds of the attempt) and `webhook-signature` "
        "(`v1,` + base64 HMAC-SHA256 of `id.timestamp.body`), verified with the "
        "`standardwebhooks` libraries. `recon`: the scheme before it, hex HMAC-SHA256 of "
        "`timestamp.body` as `sha256=<hex>` in `signature_header`, the timestamp in "
        "`timestamp_header`",
    )
    signature_header: str = Field(
        default="X-Recon-Signature", description="`signing: recon` only: the signature's header"
    )
    timestamp_header: str = Field(
        default="X-Recon-Timestamp", description="`signing: recon` only: the timestamp's header"
    )
    timeout_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _header_names_are_for_recon_signing(self) -> "WebhookOptions":
        # Standard Webhooks fixes its header names; a config naming headers was written for the
        # `recon` scheme (the default before Standard Webhooks) and must say so.
        named = sorted({"signature_header", "timestamp_header"} & self.model_fields_set)
        if self.signing == "standard" and named:
            verb = "applies" if len(named) == 1 else "apply"
            raise ValueError(
                f"{' and '.join(named)} only {verb} to `signing: recon` (Standard Webhooks "
                "headers are fixed): set `signing: recon` to keep the headers named here"
            )
        return self


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

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        # A misspelled type would route nothing, silently: the registry's names only.
        known = type_names()
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"unknown discrepancy type(s) {unknown}; known: {', '.join(known)}")
        return value

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
    case_sla_days: dict[Severity, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict,
        description="per severity, how many days (fractions allowed) a case may stay open "
        "(neither acknowledged nor resolved) before it escalates, once, to the channels of "
        "the rules that match it; a severity left out never escalates",
    )

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
