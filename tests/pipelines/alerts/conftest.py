"""The alerts' fixtures (local servers, a reconciled shop) live with the core's alert tests."""

from tests.recon.alerts.conftest import shop  # noqa: F401  (a fixture, used by name)
