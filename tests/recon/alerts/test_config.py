"""Loading the routing config from YAML or TOML, and errors that name the offending field."""

from pathlib import Path

import pytest
from pydantic import ValidationError

import recon.alerts
from recon.alerts import AlertConfig, default_config, load_config

YAML = """
channels:
  - name: oncall
    type: pagerduty
    options: {routing_key_env: RECON_PD_ROUTING_KEY}
  - name: team
    type: slack
    options: {webhook_url_env: RECON_SLACK_WEBHOOK_URL}
rules:
  - {channels: [oncall, team], severities: [critical], mode: each}
  - {channels: [team], min_amount_minor: 10000, digest_top: 3, check_failures: true}
retry: {attempts: 5}
case_sla_days: {critical: 1, high: 0.5}
"""

TOML = """
[[channels]]
name = "audit"
type = "jsonl"
options = { path = "out/alerts.jsonl" }

[[rules]]
channels = ["audit"]
types = ["duplicate_charge"]
"""


def test_yaml_and_toml_load_into_the_same_model(tmp_path):
    (tmp_path / "alerts.yaml").write_text(YAML)
    (tmp_path / "alerts.toml").write_text(TOML)

    from_yaml = load_config(tmp_path / "alerts.yaml")
    from_toml = load_config(tmp_path / "alerts.toml")

    assert [c.type for c in from_yaml.channels] == ["pagerduty", "slack"]
    assert from_yaml.channel("oncall").options.url == "https://events.pagerduty.com/v2/enqueue"
    assert from_yaml.rules[1].min_amount_minor == 10_000 and from_yaml.retry.attempts == 5
    assert from_yaml.case_sla_days == {"critical": 1.0, "high": 0.5}
    assert from_toml.case_sla_days == {}  # nothing escalates unless configured
    assert from_toml.rules[0].types == ["duplicate_charge"]


def test_no_file_means_console_only():
    config = load_config(None)
    assert config == default_config()
    assert [c.type for c in config.channels] == ["console"]
    assert config.rules[0].check_failures


def error_text(data: dict) -> str:
    with pytest.raises(ValidationError) as raised:
        AlertConfig.model_validate(data)
    return str(raised.value)


CONSOLE = [{"name": "c", "type": "console"}]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (
            {"channels": [{"name": "w", "type": "webhook", "options": {}}], "rules": []},
            "channels.0.webhook.options.url",
        ),
        ({"channels": [{"name": "x", "type": "carrier_pigeon"}], "rules": []}, "channels.0"),
        (
            {"channels": CONSOLE, "rules": [{"channels": ["c"], "severities": ["urgent"]}]},
            "rules.0.severities.0",
        ),
        (
            {"channels": CONSOLE, "rules": [{"channels": ["c"], "min_amount_minor": -1}]},
            "rules.0.min_amount_minor",
        ),
        ({"channels": CONSOLE, "rules": [{"channels": ["c"], "mode": "batch"}]}, "rules.0.mode"),
        (
            {"channels": CONSOLE, "rules": [{"channels": ["c"], "types": ["duplicate_charges"]}]},
            "rules.0.types\n  Value error, unknown discrepancy type(s) ['duplicate_charges']",
        ),
        ({"channels": CONSOLE, "rules": [{"channels": ["nope"]}]}, "rules.0.channels"),
        (
            {"channels": CONSOLE, "rules": [{"channels": ["c"], "severity": ["low"]}]},
            "rules.0.severity",
        ),
        ({"channels": CONSOLE * 2, "rules": [{"channels": ["c"]}]}, "channels: duplicate"),
        (
            {"channels": CONSOLE, "rules": [{"channels": ["c"]}], "retry": {"attempts": 0}},
            "retry.attempts",
        ),
        (
            {"channels": CONSOLE, "rules": [{"channels": ["c"]}], "case_sla_days": {"urgent": 1}},
            "case_sla_days.urgent.[key]",
        ),
        (
            {"channels": CONSOLE, "rules": [{"channels": ["c"]}], "case_sla_days": {"high": 0}},
            "case_sla_days.high\n  Input should be greater than 0",
        ),
    ],
)
def test_validation_errors_name_the_field(data, field):
    assert field in error_text(data)


def test_a_secret_value_in_place_of_a_variable_name_is_refused():
    # Only *_env names are accepted: a pasted URL or key has nowhere to go.
    text = error_text(
        {
            "channels": [
                {"name": "s", "type": "slack", "options": {"webhook_url": "https://hooks.x"}}
            ],
            "rules": [{"channels": ["s"]}],
        }
    )
    assert "channels.0.slack.options.webhook_url" in text


def webhook(**options) -> dict:
    return {
        "channels": [
            {
                "name": "w",
                "type": "webhook",
                "options": {"url": "https://hooks.example", "secret_env": "S", **options},
            }
        ],
        "rules": [{"channels": ["w"]}],
    }


def test_webhooks_are_signed_per_standard_webhooks_unless_recon_is_chosen():
    assert AlertConfig.model_validate(webhook()).channel("w").options.signing == "standard"
    recon = AlertConfig.model_validate(webhook(signing="recon", signature_header="X-Sig"))
    assert recon.channel("w").options.signature_header == "X-Sig"
    assert "channels.0.webhook.options.signing" in error_text(webhook(signing="hmac"))


def test_recon_header_names_without_recon_signing_are_refused():
    # A config written before Standard Webhooks became the default, naming its headers: it must
    # say `signing: recon` rather than have those names silently ignored.
    text = error_text(webhook(signature_header="X-Sig", timestamp_header="X-Time"))
    assert "channels.0.webhook.options" in text
    assert "signature_header and timestamp_header only apply to `signing: recon`" in text


def test_unknown_file_type_is_refused(tmp_path):
    path = tmp_path / "alerts.json"
    path.write_text("{}")
    with pytest.raises(ValueError, match="alert config must be"):
        load_config(path)


def test_the_example_config_in_the_package_is_valid():
    example = Path(recon.alerts.__file__).parent / "alerts.example.yaml"
    config = load_config(example)
    assert {c.type for c in config.channels} == {
        "console",
        "pagerduty",
        "slack",
        "email",
        "jsonl",
        "webhook",
    }
    assert [c.options.signing for c in config.channels if c.type == "webhook"] == [
        "standard",
        "recon",
    ]
