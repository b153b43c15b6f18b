"""The Dagster code location: loadable, with the job, schedule and sensor engineers expect."""

import json
import os
from datetime import UTC, date, datetime

import dagster as dg

from pipelines.definitions import build_definitions
from pipelines.jobs import RECONCILE_JOB
from recon.settings import ReconSettings


def settings_for(tmp_path, **extra) -> ReconSettings:
    return ReconSettings(
        landing_dir=tmp_path / "landing",
        warehouse_path=tmp_path / "wh.duckdb",
        out_dir=str(tmp_path / "out" / "{date}"),
        **extra,
    )


def test_definitions_are_loadable():
    from pipelines.definitions import defs

    dg.Definitions.validate_loadable(defs)


def test_every_model_and_source_is_an_asset_wired_from_its_sql(tmp_path):
    defs = build_definitions(settings_for(tmp_path))
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    for source in ("orders", "payments", "inventory_moves", "fulfillments", "analytics_events"):
        assert f"raw/{source}" in keys
    assert {
        "staging/stg_order_versions",
        "marts/discrepancies",
        "exports/discrepancy_files",
    } <= keys
    parents = graph.get(dg.AssetKey(["staging", "stg_order_versions"])).parent_keys
    assert parents == {dg.AssetKey(["raw", "orders"])}
    # stg_orders is ephemeral: no asset; what reads it depends on what it reads.
    assert "staging/stg_orders" not in keys
    parents = graph.get(dg.AssetKey(["intermediate", "int_checkout_orders"])).parent_keys
    assert parents == {
        dg.AssetKey(["raw", "orders"]),
        dg.AssetKey(["staging", "stg_order_versions"]),
    }


def test_schedule_runs_yesterday_at_two_utc(tmp_path):
    defs = build_definitions(settings_for(tmp_path))
    schedule = defs.resolve_schedule_def(f"{RECONCILE_JOB}_schedule")
    assert schedule.cron_schedule == "0 2 * * *"
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 3, 5, 2, tzinfo=UTC)
    )
    [request] = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-03-04"


def test_settings_come_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RECON_LOOKBACK_DAYS", "5")
    monkeypatch.setenv("RECON_LANDING_DIR", str(tmp_path))
    settings = ReconSettings()
    assert settings.lookback_days == 5 and settings.landing_dir == tmp_path


def test_bad_settings_are_refused_with_the_field_named(monkeypatch):
    import pydantic
    import pytest

    monkeypatch.setenv("RECON_LOOKBACK_DAYS", "-1")
    with pytest.raises(pydantic.ValidationError, match="lookback_days"):
        ReconSettings()


def test_the_web_pages_address_is_an_http_url_and_reaches_the_reports(monkeypatch, tmp_path):
    import pydantic
    import pytest

    from pipelines.resources import build_resources

    monkeypatch.setenv("RECON_WEB_URL", "https://recon.example.com/")
    settings = settings_for(tmp_path)
    assert build_resources(settings)["recon"].web_url == "https://recon.example.com"
    monkeypatch.setenv("RECON_WEB_URL", "javascript:alert(1)")
    with pytest.raises(pydantic.ValidationError, match="web_url must be an http"):
        ReconSettings()


def _touch(landing, source: str, day: str, name: str = "part.jsonl") -> None:
    folder = landing / source / day
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("{}\n")


def test_sensor_requests_each_partition_whose_window_gained_files(tmp_path):
    settings = settings_for(tmp_path, lookback_days=1, partitions_start=date(2026, 1, 1))
    landing = settings.landing_dir
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def("new_landing_files")
    repo = defs.get_repository_def()

    _touch(landing, "payments", "2026-01-05")
    first = sensor.evaluate_tick(dg.build_sensor_context(repository_def=repo))
    assert sorted(r.partition_key for r in first.run_requests) == [
        "2026-01-04",
        "2026-01-05",
        "2026-01-06",
    ]

    # Nothing new: no runs.
    again = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor, repository_def=repo))
    assert again.run_requests == []

    # A late file for the 5th changes the 5th's fingerprint only.
    _touch(landing, "orders", "2026-01-05", "late.parquet")
    later = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor, repository_def=repo))
    assert sorted(r.partition_key for r in later.run_requests) == [
        "2026-01-04",
        "2026-01-05",
        "2026-01-06",
    ]
    assert json.loads(later.cursor).keys() == {"2026-01-05"}


def test_sensor_ignores_future_partitions_and_stray_folders(tmp_path):
    settings = settings_for(tmp_path, lookback_days=1)
    landing = settings.landing_dir
    today = datetime.now(UTC).date().isoformat()
    _touch(landing, "payments", today)
    (landing / "payments" / "not-a-date").mkdir(parents=True)
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def("new_landing_files")
    context = dg.build_sensor_context(repository_def=defs.get_repository_def())
    result = sensor.evaluate_tick(context)
    keys = [r.partition_key for r in result.run_requests]
    assert today not in keys and len(keys) == 1  # only yesterday exists as a partition
    assert os.path.isdir(landing / "payments" / "not-a-date")
