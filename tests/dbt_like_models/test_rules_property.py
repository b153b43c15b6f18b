"""Property: for any mix of checkout shapes with known outcomes, the pipeline reports exactly the
union of their discrepancies. The expected set comes from the shapes themselves, and the
generator's own test checks those shapes against an independent Python reading of the rules.

More examples for a soak: RECON_PROPERTY_EXAMPLES=200 pytest tests/dbt_like_models -k property
"""

import os
import random
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.contract import SOURCES
from recon.reconcile import discrepancies, reconcile_partition
from recon.run_params import RunParams
from recon.warehouse import connect
from testdata.flows import combine_rows
from testdata.settlement import REFERENCE_FEE_SCHEDULE
from testdata.synthetic import ANCHOR, SCENARIOS, Context, provider_report, write_rows

DAY = date(2026, 6, 1)
SHAPES = sorted(name for name in SCENARIOS if name != ANCHOR.name)
EXAMPLES = int(os.environ.get("RECON_PROPERTY_EXAMPLES", "12"))


def _start(name: str, fraction: float) -> datetime:
    low, high = SCENARIOS[name].window
    span = (datetime.combine(DAY, high) - datetime.combine(DAY, low)).total_seconds()
    return datetime.combine(DAY, low, UTC) + timedelta(seconds=int(span * fraction))


checkout_shapes = st.lists(
    st.tuples(st.sampled_from(SHAPES), st.floats(0, 1), st.integers(0, 10_000)),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(shapes=checkout_shapes, formats=st.sampled_from(["mixed", "jsonl", "csv", "parquet"]))
def test_discrepancies_are_exactly_those_of_the_shapes(shapes, formats):
    expected = set()
    anchor = ANCHOR.build(Context("chk_anchor", _start("happy_path", 0.5), DAY, random.Random(0)))
    built = [(anchor, ANCHOR)]
    for index, (name, fraction, seed) in enumerate(shapes):
        checkout_id = f"chk_{index:02d}"
        context = Context(checkout_id, _start(name, fraction), DAY, random.Random(seed))
        built.append((SCENARIOS[name].build(context), SCENARIOS[name]))
        expected |= {(checkout_id, type_) for type_, _ in SCENARIOS[name].anomalies}
    chosen = None if formats == "mixed" else dict.fromkeys(SOURCES, formats)
    rows = combine_rows(flow.rows for flow, _ in built)
    # The provider settles every checkout, misbehaving where a shape says so.
    report = provider_report(rows["payments"], built, DAY)
    with tempfile.TemporaryDirectory() as root:
        landing = Path(root) / "landing"
        write_rows(landing, {**rows, **report.rows}, chosen)
        with connect(Path(root) / "w.duckdb") as con:
            reconcile_partition(con, landing, DAY, RunParams(fee_schedule=REFERENCE_FEE_SCHEDULE))
            found = {(d["checkout_id"], d["type"]) for d in discrepancies(con, DAY)}
    assert found == expected
