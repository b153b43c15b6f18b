"""The staging directives the engine writes out: a new source's two deduplication models are a
header each, and a directive the engine cannot read is a load error naming the file."""

from pathlib import Path

import pytest

from recon.model_errors import ModelError
from recon.model_macros import expand
from recon.sql_models import discover, table_references

REPEATS = "-- repeats of: raw.refunds by refund_id, keeping the latest updated_at\n"
DEDUPLICATED = "-- deduplicated: raw.refunds by refund_id, kept rows from stg_refund_versions\n"
MODEL = Path("staging/stg_refunds.sql")


def test_a_repeats_model_is_written_from_its_header_alone():
    sql = expand("-- The refunds landed twice.\n" + REPEATS, MODEL)
    assert sql.startswith("-- The refunds landed twice.\n" + REPEATS)
    assert table_references(sql) == {"raw.refunds"}
    assert "landed.updated_at desc" in sql
    first = expand(REPEATS.replace("latest updated_at", "first landed"), MODEL)
    assert "order by landed._landing_date, landed._source_file, landed._line" in first


def test_a_deduplicated_model_reads_the_source_and_its_repeats_before_its_own_ctes():
    own = "with paid as (select * from deduplicated where status = 'paid')\nselect * from paid"
    sql = expand("-- materialized: ephemeral\n" + DEDUPLICATED + own, MODEL)
    assert table_references(sql) == {"raw.refunds", "stg_refund_versions"}
    assert sql.index("deduplicated as (") < sql.index("paid as (")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (REPEATS + "select 1\n", "the engine writes a `-- repeats of:` model; remove its SQL"),
        (REPEATS + DEDUPLICATED + "select 1\n", "either"),
        ("-- repeats of: raw.refunds by refund_id\n", "cannot read '-- repeats of: raw.refunds"),
        ("-- deduplicated: refunds by refund_id, kept rows from x\nselect 1\n", "cannot read"),
        (REPEATS + REPEATS, "more than one"),
    ],
)
def test_a_directive_the_engine_cannot_use_is_a_load_error_naming_the_file(text, message):
    with pytest.raises(ModelError, match=r"staging/stg_refunds\.sql: .*" + _escaped(message)):
        expand(text, MODEL)


def _escaped(message: str) -> str:
    return message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")


def test_a_new_source_deduplicates_with_two_headers(tmp_path):
    staging = tmp_path / "staging"
    staging.mkdir()
    for layer in ("intermediate", "marts"):
        (tmp_path / layer).mkdir()
    (staging / "stg_payment_copies.sql").write_text(
        "-- repeats of: raw.payments by payment_id, keeping the first landed\n"
    )
    (staging / "stg_payments.sql").write_text(
        "-- materialized: ephemeral\n"
        "-- deduplicated: raw.payments by payment_id, kept rows from stg_payment_copies\n"
        "select payment_id, source_rows from deduplicated\n"
    )
    models = discover(tmp_path)
    assert models["stg_payments"].depends_on == ("raw.payments", "staging.stg_payment_copies")
    assert models["stg_payment_copies"].depends_on == ("raw.payments",)
    assert models["stg_payments"].description == ""
