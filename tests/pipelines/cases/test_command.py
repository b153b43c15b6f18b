"""`recon cases ...` through the `recon` group, on a warehouse file: the work list and its
filters, ID prefixes, refusals as clear errors, and `verify` failing on a tampered log."""

import shlex
import threading
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pipelines.cases import command
from pipelines.cli import main
from recon.cases.actions import resolve
from recon.cases.chain import verify
from tests.pipelines.test_cli import examples_of
from tests.recon.cases.conftest import (
    CHARGE,
    DAY,
    MISMATCH,
    OLD_CHARGE,
    RESERVATION,
    UNATTRIBUTED,
    copied,
    five_cases,
    held_by_another_process,
    open_shop,
    twin_cases,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """Five cases, opened relative to the wall clock (the command's ages are): the old charge
    ten days ago, the others five hours ago; the reservation resolved. Six events."""
    path = tmp_path_factory.mktemp("cases") / "warehouse.duckdb"
    with five_cases(path) as shop:
        resolve(shop.con, RESERVATION.id, resolution="false_positive", by="bob")
    return path


@pytest.fixture
def recon(template, tmp_path):
    """`recon cases <args> --warehouse <a fresh copy of the template>`."""
    with open_shop(copied(template, tmp_path)) as shop:

        def run(*args: str) -> click.testing.Result:
            return CliRunner().invoke(main, ["cases", *args, "--warehouse", str(shop.path)])

        run.shop = shop
        yield run


def test_list_shows_a_table_most_severe_and_oldest_first(recon):
    result = recon("list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "TYPE", "SEVERITY", "AMOUNT", "STATUS", "ASSIGNEE", "AGE"]
    assert [line.split()[0] for line in lines[1:]] == [
        f.id[:12] for f in (OLD_CHARGE, CHARGE, MISMATCH, RESERVATION, UNATTRIBUTED)
    ]
    oldest = [OLD_CHARGE.id[:12], "duplicate_charge", "critical", "USD", "9.00", "open", "-"]
    assert lines[1].split() == [*oldest, "10d", "0h"]
    assert "resolved (false_positive)" in lines[4] and lines[4].endswith("5h 0m")


def test_list_filters(recon):
    def listed(*args):
        result = recon("list", *args)
        assert result.exit_code == 0, result.output
        return [line.split()[0] for line in result.output.splitlines()[1:]]

    assert listed("--status", "resolved") == [RESERVATION.id[:12]]
    assert listed("--severity", "critical", "--status", "open") == [
        OLD_CHARGE.id[:12],
        CHARGE.id[:12],
    ]
    assert listed("--type", "amount_mismatch") == [MISMATCH.id[:12]]
    assert listed("--older-than", "2") == [OLD_CHARGE.id[:12]]
    assert listed("--severity", "low", "--type", "unattributed_revenue") == [UNATTRIBUTED.id[:12]]
    assert recon("list", "--status", "cleared").output == "no cases match\n"

    limited = recon("list", "--limit", "2")
    assert limited.output.splitlines()[-1] == "2 of 5 cases shown: --limit 0 shows all"

    unknown = recon("list", "--type", "lost_parcel")
    assert unknown.exit_code == 2
    assert "'lost_parcel': not a discrepancy type; the types are duplicate_charge," in (
        unknown.output
    )


def test_an_id_prefix_names_a_case_like_git(recon):
    acked = recon("ack", CHARGE.id[:8], "--by", "alice", "--note", "on it")
    assert acked.exit_code == 0, acked.output
    assert acked.output == f"case {CHARGE.id}: acknowledged by alice, now acknowledged (event 7)\n"

    short = recon("show", CHARGE.id[:7])
    assert short.exit_code == 2
    assert f"no case '{CHARGE.id[:7]}' in this warehouse (a case ID prefix needs at least 8" in (
        short.output
    )
    unknown = recon("resolve", "f" * 32, "--resolution", "other", "--by", "alice")
    assert unknown.exit_code == 2 and f"no case '{'f' * 32}' in this warehouse" in unknown.output


def test_an_ambiguous_prefix_lists_the_candidates(shop):
    twins = twin_cases(shop)

    result = CliRunner().invoke(main, ["cases", "show", "abcdef01", "--warehouse", str(shop.path)])

    assert result.exit_code == 2
    assert f"'abcdef01' is ambiguous: it matches {twins[0].id}, {twins[1].id}" in result.output
    assert "Traceback" not in result.output


def test_show_prints_the_case_and_its_history(recon):
    recon("assign", MISMATCH.id[:10], "--to", "bob", "--by", "alice", "--note", "PSP side")
    result = recon("show", MISMATCH.id[:10])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"case {MISMATCH.id}"
    assert lines[1].split() == ["type", "amount_mismatch", "(high)"]
    assert "  assignee   bob" in lines and "  amount     EUR 12.34" in lines
    assert lines[8] == "history:"
    assert lines[9].split()[:4] == ["#", "AT", "(UTC)", "ACTOR"]
    assert lines[10].split()[3:6] == ["recon", "opened", "open"]
    assert lines[11].split()[3:6] == ["alice", "assigned", "open"]
    assert lines[11].endswith("PSP side")


def test_actions_and_their_refusals(recon):
    result = recon("resolve", CHARGE.id, "--resolution", "refunded", "--by", "alice")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"case {CHARGE.id}: resolved by alice, now resolved (refunded)")

    result = recon("ack", CHARGE.id, "--by", "alice")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: case {CHARGE.id} is resolved: a resolved case cannot be acknowledged "
        "(reopen it first)\n"
    )
    assert recon("reopen", CHARGE.id, "--by", "bob", "--note", "bounced").exit_code == 0
    assert recon("note", CHARGE.id, "--by", "bob", "--note", "called the PSP").exit_code == 0

    recon.shop.reconciled(DAY, MISMATCH, RESERVATION, UNATTRIBUTED)  # the charge is gone
    assert recon("sync", "--date", DAY.isoformat()).output == (
        f"cases of {DAY}: 0 opened, 1 cleared, 0 reopened, 0 amount updated, 3 unchanged\n"
    )
    result = recon("resolve", CHARGE.id, "--resolution", "refunded", "--by", "alice")
    assert result.exit_code == 1
    assert f"Error: case {CHARGE.id} is cleared: its discrepancy is no longer found" in (
        result.output
    )

    bad = recon("resolve", MISMATCH.id, "--resolution", "paid", "--by", "alice")
    assert bad.exit_code == 2 and "'paid' is not one of 'refunded', 'written_off'" in bad.output
    missing = recon("resolve", MISMATCH.id, "--by", "alice")
    assert missing.exit_code == 2 and "Missing option '--resolution'" in missing.output
    nobody = recon("ack", MISMATCH.id, "--by", " ")
    assert nobody.exit_code == 2 and "Invalid value for '--by': must not be empty" in nobody.output


def test_sync_refuses_a_date_never_reconciled(recon):
    result = recon("sync", "--date", "2026-01-01")
    assert result.exit_code == 1
    assert result.output == (
        "Error: partition 2026-01-01 has not been reconciled in this warehouse: "
        "run `recon run` first\n"
    )


def test_verify_passes_then_names_the_tampered_event(recon):
    ok = recon("verify")
    head = verify(recon.shop.con).head
    assert ok.exit_code == 0, ok.output
    assert ok.output == f"cases log OK: 6 event(s), head {head}\n"
    assert recon("verify", "--head", head).exit_code == 0

    recon.shop.con.execute("update cases.events set note = 'fine' where event_no = 6")
    edited = recon("verify")
    assert edited.exit_code == 1
    assert edited.output == (
        f"Error: cases log BROKEN: event 6 (case {RESERVATION.id}): its content does not match "
        "its hash: edited after it was written\n"
    )


def test_verify_names_a_deleted_event_and_a_missing_head(recon):
    head = verify(recon.shop.con).head
    recon.shop.con.execute("delete from cases.events where event_no = 3")
    deleted = recon("verify")
    assert deleted.exit_code == 1
    assert "BROKEN: event 4 (case " in deleted.output
    assert "event 3 is missing: deleted" in deleted.output

    recon.shop.con.execute("delete from cases.events where event_no >= 3")  # only the tail
    assert recon("verify").exit_code == 0
    gone = recon("verify", "--head", head)
    assert gone.exit_code == 1
    assert f"the recorded head {head} is not in the log (it has 2 event(s)" in gone.output
    malformed = recon("verify", "--head", "abc123")
    assert malformed.exit_code == 2 and "not a head hash (64 hexadecimal digits)" in (
        malformed.output
    )


def test_a_missing_warehouse_and_no_cases_yet(tmp_path, shop):
    missing = CliRunner().invoke(main, ["cases", "list", "--warehouse", str(tmp_path / "no.db")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    empty = CliRunner().invoke(main, ["cases", "list", "--warehouse", str(shop.path)])
    assert empty.exit_code == 0
    assert empty.output.startswith("no cases yet: `recon run` opens the cases")
    verified = CliRunner().invoke(main, ["cases", "verify", "--warehouse", str(shop.path)])
    assert verified.output == f"cases log OK: 0 event(s), head {'0' * 64}\n"


def test_a_warehouse_held_by_another_process_is_waited_for_then_named(shop, monkeypatch):
    shop.reconciled(DAY, CHARGE)
    shop.sync()
    shop.con.close()  # another process is to hold the file
    with held_by_another_process(shop.path) as holder:
        args = ["cases", "ack", CHARGE.id, "--by", "alice", "--warehouse", str(shop.path)]

        monkeypatch.setattr(command, "LOCK_WAIT_SECONDS", 0.1)
        busy = CliRunner().invoke(main, args)
        assert busy.exit_code == 1
        assert f"is in use by process {holder.pid} (" in busy.output
        assert "(waited 0.1 s): try again when it has finished" in busy.output

        monkeypatch.setattr(command, "LOCK_WAIT_SECONDS", 10.0)
        started = time.monotonic()
        threading.Timer(0.15, lambda: holder.communicate("\n")).start()  # released meanwhile
        waited = CliRunner().invoke(main, args)
        assert waited.exit_code == 0, waited.output
        assert time.monotonic() - started >= 0.15  # it did wait for the release
        assert "acknowledged by alice" in waited.output


def subcommands():
    ctx = click.Context(main, info_name="recon")
    group = main.get_command(ctx, "cases")
    return [group.get_command(ctx, name) for name in group.list_commands(ctx)]


@pytest.mark.parametrize("sub", subcommands(), ids=lambda c: c.name)
def test_every_example_parses_with_the_subcommands_own_options(sub, tmp_path, monkeypatch):
    """tests/pipelines/test_cli.py parses examples as far as the `cases` group; here each
    example goes through its own subcommand's options and arguments too."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "warehouse.duckdb").touch()
    result = CliRunner().invoke(main, ["cases", sub.name, "--help"])
    shown = examples_of(result.output)
    assert shown, f"recon cases {sub.name} --help has no examples"
    for example in shown:
        words = shlex.split(example)
        assert words[:3] == ["recon", "cases", sub.name], example
        sub.make_context(sub.name, words[3:])
