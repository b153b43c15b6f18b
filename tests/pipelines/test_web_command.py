"""`recon web`: it refuses to start without users, says what is wrong with a users file, hashes
passwords for it, and serves the cases over HTTP."""

import httpx
import pytest
from click.testing import CliRunner

from pipelines.cli import main
from recon.web.passwords import parse_hash, verify_secret
from tests.recon.cases.conftest import CHARGE, DAY, open_shop
from tests.recon.web.conftest import API_KEY, running_recon_web, write_users_file


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with open_shop(path) as shop:
        shop.reconciled(DAY, CHARGE)
        shop.sync()
    return path


@pytest.fixture(scope="module")
def users_file(tmp_path_factory):
    return write_users_file(tmp_path_factory.mktemp("web") / "web.yaml")


def _web(*args: str, env: dict[str, str] | None = None, input: str | None = None):
    return CliRunner().invoke(main, ["web", *args], env=env, input=input)


def test_it_refuses_to_start_without_users_and_says_how_to_add_one(warehouse, monkeypatch):
    monkeypatch.delenv("RECON_WEB_CONFIG", raising=False)
    monkeypatch.chdir(warehouse.parent)  # no .env here
    result = _web("--warehouse", str(warehouse))
    assert result.exit_code == 2
    assert "no users" in result.output
    assert "recon web hash-password" in result.output


def test_a_bad_users_file_is_a_usage_error_naming_the_field(warehouse, tmp_path):
    config = tmp_path / "web.yaml"
    config.write_text("users:\n  - {name: alice, role: operator}\n", encoding="utf-8")
    result = _web("--warehouse", str(warehouse), "--config", str(config))
    assert result.exit_code == 2
    assert "Invalid value for --config" in result.output
    assert "users.0: user 'alice' has neither password_hash nor api_key_hash" in result.output


def test_a_short_session_secret_is_refused(warehouse, users_file):
    result = _web(
        "--warehouse",
        str(warehouse),
        "--config",
        str(users_file),
        env={"RECON_WEB_SESSION_SECRET": "short"},
    )
    assert result.exit_code == 2
    assert "at least 32 characters" in result.output


def test_a_missing_warehouse_is_named(tmp_path, users_file):
    result = _web("--warehouse", str(tmp_path / "none.duckdb"), "--config", str(users_file))
    assert result.exit_code == 2
    assert "none.duckdb does not exist" in result.output


def test_hash_password_prints_a_hash_of_the_line_piped_in():
    result = _web("hash-password", input="s3cret pass\n")
    assert result.exit_code == 0, result.output
    stored = parse_hash(result.output.strip())
    assert verify_secret("s3cret pass", stored)
    assert not verify_secret("s3cret pass\n", stored)


def test_hash_password_refuses_an_empty_password():
    result = _web("hash-password", input="\n")
    assert result.exit_code == 2
    assert "the password is empty" in result.output


def test_new_api_key_prints_a_key_and_its_hash():
    result = _web("new-api-key")
    assert result.exit_code == 0, result.output
    lines = dict(line.split(":", 1) for line in result.output.splitlines())
    key, stored = lines["key"].strip(), lines["api_key_hash"].strip()
    assert len(key) >= 40 and verify_secret(key, parse_hash(stored))


def test_it_serves_the_cases_on_the_address_it_prints(warehouse, users_file, tmp_path):
    with running_recon_web(warehouse, users_file, tmp_path / "web.log") as url:
        assert url.startswith("http://127.0.0.1:")
        headers = {"Authorization": f"Bearer {API_KEY}"}
        listed = httpx.get(f"{url}/cases", headers=headers)
        assert listed.status_code == 200 and CHARGE.id in listed.text
        assert httpx.get(f"{url}/cases").status_code == 303  # a person signs in first
    assert "RECON_WEB_SESSION_SECRET is not set" in (tmp_path / "web.log").read_text()
