"""Parquet landing files read in place: exactly the rows, values and findings that storing them row
by row gives, and never a file that changed after it was checked."""

import os
import re
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import AssetKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks.invariants import rows_conserved
from recon.contract import SOURCES
from recon.ingest import ingest_source
from recon.raw_rows import LandingFileChanged, raw_rows_sql
from recon.reconcile import discrepancies, reconcile_partition
from recon.warehouse import connect
from testdata.flows import combine_rows
from testdata.synthetic import write_rows
from tests.checks.test_checks import flows

DAY = date(2026, 1, 2)
LOADED_AT = datetime(2026, 1, 3, 4, 5, 6)
PAYMENTS = SOURCES["payments"]
EXAMPLES = int(os.environ.get("RECON_PROPERTY_EXAMPLES", "40"))

# Values chosen to sit on both sides of every rule: blanks, padding (Unicode spaces too: trim()
# strips them), case, unknown values, widths, amounts around the minimum, nulls.
ids = st.one_of(
    st.sampled_from(
        # Non-ASCII values, padded and not: the check trims only those (ASCII ones by `like`).
        ["p", "p ", " p", "", "   ", "x" * 2049, "p\t", "\u00a0p", "p\u3000", "pé", "é ", " é"]
    ),
    st.text(alphabet="ab1 _:", min_size=1, max_size=6),
    st.none(),
)
kinds = st.sampled_from(["authorization", "capture", "Capture", " void", "chargeback", "", None])
statuses = st.sampled_from(["succeeded", "failed", "PENDING", None])
currencies = st.sampled_from(["EUR", "USD", "eur", "XXY", " GBP", None])
amounts = st.one_of(st.integers(-2, 3), st.integers(1, 2**40), st.none())
instants = st.one_of(
    st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2026, 2, 1)), st.none()
)
optional_text = st.one_of(st.sampled_from(["ref", " ref", "", "ref ", "ref\u2009"]), st.none())


@st.composite
def parquet_payments(draw) -> tuple[pa.Table, dict]:
    rows = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "payment_id": ids,
                    "checkout_id": ids,
                    "idempotency_key": ids,
                    "kind": kinds,
                    "status": statuses,
                    "amount_minor": amounts,
                    "currency": currencies,
                    "created_at": instants,
                    "psp_reference": optional_text,
                    "failure_code": optional_text,
                }
            ),
            min_size=1,
            max_size=8,
        )
    )
    amount_type = draw(st.sampled_from([pa.int64(), pa.int32(), pa.string()]))
    time_type = draw(st.sampled_from([pa.timestamp("us"), pa.timestamp("ms", tz="UTC")]))
    columns = {}
    for name in rows[0]:
        values = [row[name] for row in rows]
        if name == "amount_minor":
            if amount_type == pa.int32():
                values = [v if v is None or abs(v) < 2**31 else 7 for v in values]
            if amount_type == pa.string():
                values = [None if v is None else str(v) for v in values]
            columns[name] = pa.array(values, type=amount_type)
        elif name == "created_at":
            if time_type.tz:
                values = [None if v is None else v.replace(tzinfo=UTC) for v in values]
            columns[name] = pa.array(values, type=time_type)
        else:
            columns[name] = pa.array(values, type=pa.string())
    if draw(st.booleans()):
        columns["carrier_note"] = pa.array(["n"] * len(rows), type=pa.string())
    return pa.table(columns), {"rows": rows}


def _loaded(tmp_path, name: str, table: pa.Table, read_in_place: bool):
    folder = tmp_path / name / "landing" / "payments" / DAY.isoformat()
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "export.parquet")
    con = connect(tmp_path / name / "w.duckdb")
    report = ingest_source(
        con,
        PAYMENTS,
        tmp_path / name / "landing",
        DAY,
        lookback_days=0,
        loaded_at=LOADED_AT,
        read_in_place=read_in_place,
    )
    relation = raw_rows_sql(con, PAYMENTS, DAY)
    rows = con.execute(
        f"select * exclude (_source_file) from ({relation}) order by _line"
    ).fetchall()
    quarantine = con.execute(
        "select _line, reason, detail, raw_text from raw.quarantine order by 1"
    ).fetchall()
    found = (report, rows, quarantine)
    con.close()
    return found


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(drawn=parquet_payments())
def test_a_file_read_in_place_gives_what_storing_it_row_by_row_gives(tmp_path_factory, drawn):
    table, _ = drawn
    tmp_path = tmp_path_factory.mktemp("payments")
    in_place, in_place_rows, in_place_quarantine = _loaded(tmp_path, "a", table, True)
    stored, stored_rows, stored_quarantine = _loaded(tmp_path, "b", table, False)
    assert in_place_rows == stored_rows
    assert in_place_quarantine == stored_quarantine
    assert [(f.rows_read, f.rows_loaded, f.rows_quarantined) for f in in_place.files] == [
        (f.rows_read, f.rows_loaded, f.rows_quarantined) for f in stored.files
    ]
    # What the contract suite is handed is the same too.
    assert in_place.summary == stored.summary
    [file] = in_place.files
    assert not file.read_in_place or file.rows_quarantined == 0


def _two_payments(**columns: list) -> pa.Table:
    """An authorization and its capture that meet the contract, with `columns` replaced or added."""
    return pa.table(
        {
            "payment_id": ["p1", "p2"],
            "checkout_id": ["c1", "c1"],
            "idempotency_key": ["c1:payment.authorize", "c1:payment.capture"],
            "kind": ["authorization", "capture"],
            "status": ["succeeded", "succeeded"],
            "amount_minor": [100, 100],
            "currency": ["EUR", "EUR"],
            "created_at": [datetime(2026, 1, 2, 10), datetime(2026, 1, 2, 11)],
        }
        | columns
    )


def test_a_tidy_file_is_read_in_place_and_an_untidy_one_is_stored(tmp_path):
    tidy = _two_payments()
    report, rows, _ = _loaded(tmp_path, "tidy", tidy, True)
    assert [f.read_in_place for f in report.files] == [True]
    with connect(tmp_path / "tidy" / "w.duckdb") as con:
        assert con.execute("select count(*) from raw.payments").fetchone()[0] == 0
    assert [r[3] for r in rows] == ["p1", "p2"]

    padded = tidy.set_column(3, "kind", pa.array(["authorization", "Capture"]))
    notes = []
    folder = tmp_path / "padded" / "payments" / DAY.isoformat()
    folder.mkdir(parents=True)
    pq.write_table(padded, folder / "export.parquet")
    with connect(tmp_path / "padded" / "w.duckdb") as con:
        report = ingest_source(
            con, PAYMENTS, tmp_path / "padded", DAY, lookback_days=0, progress=notes.append
        )
        assert con.execute("select count(*) from raw.payments").fetchone()[0] == 2
    assert [f.read_in_place for f in report.files] == [False]
    assert "column kind: values not spelled as the contract lists them (1 rows)" in notes[0]


@pytest.mark.parametrize("space", [" ", "\u00a0", "\u3000"])
def test_a_value_trim_would_change_is_never_read_as_it_lands(tmp_path, space):
    """The staging models trim nothing: they rely on every raw value being trimmed, which holds
    for a file read in place only if no value of it has a space, ASCII or not, at either end."""
    untidy = _two_payments(
        checkout_id=["c1", f"c1{space}"], psp_reference=[f"{space}psp_1", "psp_2"]
    )
    report, _, _ = _loaded(tmp_path, "untidy", untidy, True)
    assert [f.read_in_place for f in report.files] == [False]
    # Stored row by row instead, where every text value is trimmed on its way in.
    with connect(tmp_path / "untidy" / "w.duckdb") as con:
        stored = con.execute(
            "select checkout_id, psp_reference from raw.payments order by _line"
        ).fetchall()
    assert stored == [("c1", "psp_1"), ("c1", "psp_2")]


@pytest.fixture
def parquet_day(tmp_path):
    """A small day whose every source lands as Parquet, reconciled once."""
    rows = combine_rows(f.rows for f in flows())
    write_rows(tmp_path / "landing", rows, dict.fromkeys(SOURCES, "parquet"))
    con = connect(tmp_path / "w.duckdb")
    reconcile_partition(con, tmp_path / "landing", date(2026, 5, 6))
    yield con, tmp_path / "landing"
    con.close()


def test_a_day_of_parquet_files_is_read_in_place_and_found_as_when_stored(tmp_path, parquet_day):
    con, landing = parquet_day
    day = date(2026, 5, 6)
    in_place = con.execute("select bool_and(read_in_place) from meta.ingested_files").fetchone()
    assert in_place == (True,)
    with connect(tmp_path / "stored.duckdb") as stored:
        reconcile_partition(stored, landing, day, read_in_place=False)
        assert discrepancies(con, day) == discrepancies(stored, day) != []


def test_a_file_that_changes_after_ingestion_is_refused_and_fails_conservation(parquet_day):
    con, landing = parquet_day
    day = date(2026, 5, 6)
    [path] = sorted((landing / "orders" / day.isoformat()).glob("*.parquet"))[:1]
    table = pq.read_table(path)
    pq.write_table(table.slice(1), path)  # a re-export with a row fewer
    with pytest.raises(LandingFileChanged, match=rf"{path}.*ingest the partition again"):
        raw_rows_sql(con, SOURCES["orders"], day)
    check = rows_conserved(con, AssetKey(["raw", "orders"]), "orders", day)
    assert not check.passed
    assert str(path) in str(check.metadata["files_not_conserved"].value)


def test_a_scan_of_several_files_names_the_largest_first(tmp_path):
    # DuckDB estimates a scan of several Parquet files as the first file's rows times the number
    # of files: a window starting with a small file was estimated far below its rows, and joins
    # built their hash tables on it. The largest file first keeps the estimate an overestimate.
    small = _two_payments()
    large = pa.concat_tables(
        _two_payments(payment_id=[f"p{n}a", f"p{n}b"], created_at=[datetime(2026, 1, 3, n)] * 2)
        for n in range(5)
    )
    for day, table in ((DAY - timedelta(days=1), small), (DAY, large)):
        folder = tmp_path / "landing" / "payments" / day.isoformat()
        folder.mkdir(parents=True)
        pq.write_table(table, folder / "export.parquet")
    with connect(tmp_path / "w.duckdb") as con:
        ingest_source(con, PAYMENTS, tmp_path / "landing", DAY, lookback_days=1)
        relation = raw_rows_sql(con, PAYMENTS, DAY)
        files = re.search(r"read_parquet\(\[(.*?)\]", relation).group(1)
        assert files.index(DAY.isoformat()) < files.index((DAY - timedelta(days=1)).isoformat())
        [(rows,)] = con.execute(f"select count(*) from ({relation})").fetchall()
    assert rows == small.num_rows + large.num_rows
