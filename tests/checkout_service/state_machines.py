"""Hypothesis settings shared by the service state-machine tests, with the soak knobs the README
documents: RECON_PROPERTY_EXAMPLES (sequences) and RECON_PROPERTY_STEPS (steps per sequence)."""

import os

from hypothesis import HealthCheck, settings


def state_machine_settings(default_examples: int) -> settings:
    return settings(
        max_examples=int(os.environ.get("RECON_PROPERTY_EXAMPLES", str(default_examples))),
        stateful_step_count=int(os.environ.get("RECON_PROPERTY_STEPS", "25")),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
