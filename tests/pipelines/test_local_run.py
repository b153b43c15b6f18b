"""What `recon run` prints of a check's metadata."""

import dagster as dg

from pipelines.local_run import _metadata_text


def test_a_checks_figures_read_as_a_person_would_write_them():
    text = _metadata_text(
        {
            "rows": 206,
            "keys_breaking_rule": 7,
            "rate": 7 / 206,
            "warn_above": dg.MetadataValue.float(0.01),
            "unset": None,
            "seconds": 1234.5,
        }
    )
    assert text == "rows=206, keys_breaking_rule=7, rate=0.034, warn_above=0.01, seconds=1234.5"
