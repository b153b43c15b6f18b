"""The cases' warehouse fixture lives with the core's case tests."""

from tests.recon.cases.conftest import shop  # noqa: F401  (a fixture, used by name)
