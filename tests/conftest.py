"""Fixtures shared by the whole suite."""

import os

import pytest
from sqlalchemy import create_engine, text

from checkout_service.db import normalise_url

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


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
