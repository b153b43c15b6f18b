"""The web app and the daily run share the warehouse file: the app holds it only while a request
runs, and when another process holds it, a page says so (503) instead of hanging or failing."""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from tests.recon.cases.conftest import CHARGE, MISMATCH, held_by_another_process
from tests.recon.web.conftest import error_of

OPEN = "import duckdb, sys; duckdb.connect(sys.argv[1]).close()"


def test_between_requests_another_process_can_write_the_warehouse(site):
    alice = site.visitor("alice")
    assert alice.get("/cases").status_code == 200
    assert alice.act(CHARGE.id, "acknowledge").status_code == 303
    # What the daily run does next: open the file read-write, from another process.
    opened = subprocess.run([sys.executable, "-c", OPEN, str(site.warehouse)], capture_output=True)
    assert opened.returncode == 0, opened.stderr.decode()


def test_a_page_says_who_holds_the_warehouse(make_site):
    site = make_site(lock_wait_seconds=0)
    rita = site.visitor("rita")
    with held_by_another_process(site.warehouse) as holder:
        busy = rita.get("/cases")
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "30"
        assert f"in use by process {holder.pid}" in error_of(busy)
        holder.communicate("\n")  # let go of the file
    assert rita.get("/cases").status_code == 200


def test_people_reading_and_acting_at_once_all_get_their_pages(site):
    """Pages open the file read-only and actions read-write; DuckDB refuses both at once in one
    process, so the app takes turns: no request fails for another's sake."""
    readers = [site.visitor("rita") for _ in range(4)]
    alice = site.visitor("alice")
    token = alice.csrf()

    def read(n: int) -> int:
        return readers[n % 4].get(f"/cases/{MISMATCH.id}" if n % 2 else "/cases").status_code

    def note(n: int) -> int:
        return alice.post(f"/cases/{CHARGE.id}/note", {"csrf": token, "note": f"n{n}"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        reads = [pool.submit(read, n) for n in range(40)]
        notes = [pool.submit(note, n) for n in range(8)]
        assert [f.result() for f in reads] == [200] * 40
        assert [f.result() for f in notes] == [303] * 8
    noted = [event for event in site.events(CHARGE.id) if event[1] == "noted"]
    assert sorted(event[5] for event in noted) == sorted(f"n{n}" for n in range(8))
