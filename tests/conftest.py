"""Fixtures shared by the whole suite."""

import os

import pytest
from sqlalchemy import create_engine, text

from checkout_service.db import normalise_url

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"

# Started first, longest first: `make test` hands whole files to two workers in collection
# order, and a long file collected late (the Spark engine's, a JVM and a minute of fixed cost
# per run) kept one worker busy minutes after the other had finished everything else.
FIRST = (
    "tests/recon/spark/test_engine.py",
    "tests/recon/spark/test_cluster.py",
    "tests/e2e/test_reliability.py",
    "tests/recon/spark/",
    "tests/e2e/",
)


def _start_rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::")[0]
    if not path.startswith("tests/"):  # run from inside tests/: node IDs are relative to it
        path = "tests/" + path
    ranks = [i for i, prefix in enumerate(FIRST) if path.startswith(prefix)]
    return ranks[0] if ranks else len(FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_start_rank)  # stable: each file keeps its own order


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The PostgreSQL server of the concurrency tests (`RECON_TEST_PG_URL`).

    Unreachable: the test is skipped with the reason, except in CI (`CI=true`), where the
    machine is expected to run PostgreSQL and an unreachable server fails the test.
    """
    url = os.environ.get("RECON_TEST_PG_URL", DEFAULT_PG_URL)
    engine = create_engine(normalise_url(url), connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:
        message = f"PostgreSQL unreachable at {url} (set RECON_TEST_PG_URL): {error}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()
    return url
