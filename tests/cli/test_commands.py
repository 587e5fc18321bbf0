"""The real command, end to end, against the simulator over loopback HTTP."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest


def test_help_lists_every_command(cli):
    out = cli.run("--help", check_code=0).stdout
    for word in ("sync", "sync-status", "accounts", "counters", "simulator", "--headless", "--demo"):
        assert word in out


def test_accounts_add_reads_the_token_from_stdin_and_never_shows_it(cli):
    token = cli.world.tokens[0]
    added = cli.run("accounts", "add", stdin=token + "\n", check_code=0)
    assert token not in added.stdout + added.stderr
    assert "counter(s) discovered" in added.stdout
    listed = cli.run("accounts", "list", check_code=0).stdout
    assert token not in listed and token[:4] in listed
    (account,) = cli.json("accounts", "list", "--json")
    assert token not in str(account) and account["revoked"] is False
    counters = cli.json("counters", "list", "--json")
    assert sorted(c["counter_id"] for c in counters) == sorted(c.id for c in cli.world.counters_of(token))


def test_a_bad_token_is_refused_clearly(cli):
    bad = "y0_not-a-real-token-at-all-1234567890"
    proc = cli.run("accounts", "add", stdin=bad + "\n")
    assert proc.returncode == 1
    assert "refused" in proc.stderr and bad not in proc.stderr
    assert cli.json("accounts", "list", "--json") == []


def test_token_from_the_environment(cli):
    proc = cli.run("accounts", "add", extra_env={"METRIKA_TOKEN": cli.world.tokens[1]}, check_code=0)
    assert cli.world.tokens[1] not in proc.stdout


@pytest.mark.slow
def test_full_sync_then_nothing_to_do_then_force(cli):
    cli.add_all_accounts()
    total = sum(len(cli.world.counters_of(t)) for t in cli.world.tokens)
    first = cli.run("sync", check_code=0)
    assert f"Queued: {total}" in first.stdout and "Failed: 0" in first.stdout
    assert "Sync completed" in first.stdout
    status = cli.json("sync-status", "--json")
    states = [c["state"] for a in status["accounts"] for c in a["counters"]]
    assert states == ["ok"] * total
    assert status["summary"]["in_sync"] == total and status["summary"]["overall_percent"] == 100
    assert status["next_scheduled_sync_at"]

    second = cli.run("sync", check_code=0)
    assert "Queued: 0" in second.stdout and f"Skipped (recently synced): {total}" in second.stdout

    forced = cli.run("sync", "--force", check_code=0)
    assert f"Queued: {total}" in forced.stdout


@pytest.mark.slow
def test_account_and_counter_filters(cli):
    cli.add_all_accounts()
    accounts = cli.json("accounts", "list", "--json")
    first = accounts[0]["id"]
    out = cli.run("sync", "--account-id", str(first), check_code=0).stdout
    status = cli.json("sync-status", "--json")
    by_account = {a["id"]: {c["state"] for c in a["counters"]} for a in status["accounts"]}
    assert by_account[first] == {"ok"}
    assert all(states == {"pending"} for aid, states in by_account.items() if aid != first)
    assert f"Account: {first} " in out

    target = status["accounts"][1]["counters"][0]["counter_id"]
    cli.run("sync", "--counter-id", str(target), check_code=0)
    status = cli.json("sync-status", "--json")
    ok = {c["counter_id"] for a in status["accounts"] for c in a["counters"] if c["state"] == "ok"}
    assert target in ok and len(ok) == len(cli.world.counters_of(cli.world.tokens[0])) + 1


@pytest.mark.slow
def test_no_wait_only_enqueues(cli):
    cli.add_all_accounts()
    out = cli.run("sync", "--no-wait", check_code=0).stdout
    assert "Not waiting" in out and "Sync completed" not in out  # it only queued: it says so
    assert re.search(rf"\nQueued {len(cli.world.tokens) * 3} in \d+\.\d\ds; not waiting for them\n", out)
    status = cli.json("sync-status", "--json")
    assert {c["state"] for a in status["accounts"] for c in a["counters"]} == {"queued"}
    # a second plan makes no duplicate: the live jobs are reported as already queued
    again = cli.run("sync", "--no-wait", "--force", check_code=0).stdout
    assert "Queued: 0" in again and "Already queued:" in again
    # and a waiting sync works them
    cli.run("sync", check_code=0)
    status = cli.json("sync-status", "--json")
    assert {c["state"] for a in status["accounts"] for c in a["counters"]} == {"ok"}


@pytest.mark.slow
def test_disabled_counter_is_never_planned(cli):
    cli.add_all_accounts()
    counters = cli.json("counters", "list", "--json")
    target = counters[0]["counter_id"]
    cli.run("counters", "disable", str(target), check_code=0)
    cli.run("sync", check_code=0)
    status = cli.json("sync-status", "--json")
    state = {c["counter_id"]: c["state"] for a in status["accounts"] for c in a["counters"]}
    assert state[target] == "disabled"
    assert set(state.values()) == {"ok", "disabled"}
    assert status["summary"]["total"] == len(counters) - 1
    cli.run("counters", "enable", str(target), check_code=0)
    cli.run("sync", check_code=0)
    assert cli.json("sync-status", "--json")["summary"]["overall_percent"] == 100


def test_revoked_account_is_skipped(cli):
    cli.add_all_accounts()
    accounts = cli.json("accounts", "list", "--json")
    cli.run("accounts", "revoke", str(accounts[0]["id"]), check_code=0)
    cli.run("sync", check_code=0)
    status = cli.json("sync-status", "--json")
    first = status["accounts"][0]
    assert first["status"] == "revoked" and {c["state"] for c in first["counters"]} == {"revoked"}


def test_status_text_report(cli):
    cli.add_all_accounts()
    text = cli.run("sync-status", check_code=0).stdout
    assert "Sync Status Report" in text and "PENDING" in text and "Overall: 0%" in text
    assert "\x1b[" not in text  # plain when not on a terminal


@pytest.mark.parametrize(
    ("args", "env", "code", "fragment"),
    [
        (["sync", "--counter-id", "abc"], {}, 2, "whole number"),
        (["sync", "--account-id", "999"], {}, 2, "unknown account id 999"),
        (["sync", "--counter-id", "4242"], {}, 2, "unknown counter id 4242"),
        (["counters", "disable", "4242"], {}, 2, "unknown counter id"),
        (["accounts", "revoke", "77"], {}, 2, "unknown account id 77"),
        (["sync-status"], {"METRIKA_SYNC_INTERVAL_MINUTES": "-5"}, 2, "METRIKA_SYNC_INTERVAL_MINUTES"),
        (["sync-status"], {"METRIKA_SYNC_INTERVAL_MINUTES": "often"}, 2, "whole number"),
        (["sync-status"], {"APP_TIMEZONE": "Mars/Olympus"}, 2, "unknown time zone"),
        (["sync-status"], {"METRIKA_WORKERS": "0"}, 2, "above zero"),
        (["--once"], {}, 2, "--once goes with --headless"),
        (["frobnicate"], {}, 2, "invalid choice"),
        (["accounts", "add"], {"METRIKA_TOKEN": "two words"}, 2, "white space"),
    ],
)
def test_bad_input_is_a_clear_message_and_a_non_zero_exit(cli, args, env, code, fragment):
    proc = cli.run(*args, extra_env=env)
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert fragment in proc.stderr
    assert proc.stderr.startswith("metrika-tui:") or "usage" in proc.stderr


def test_unreadable_config_and_unwritable_database(cli, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[sync\n")
    proc = cli.run("sync-status")
    assert proc.returncode == 2 and "not valid TOML" in proc.stderr
    config.unlink()
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = cli.run("sync-status", extra_env={"METRIKA_DB": str(blocker / "sub" / "x.db")})
    assert proc.returncode == 1 and "database" in proc.stderr
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database at all" * 100)
    proc = cli.run("sync-status", extra_env={"METRIKA_DB": str(garbage)})
    assert proc.returncode == 1 and "database" in proc.stderr
    assert garbage.read_bytes() == b"this is not a database at all" * 100  # nothing lost


def test_two_syncs_at_once_make_no_duplicates(cli):
    cli.add_all_accounts()
    procs = [
        # not --force: a forced plan may rightly queue again a counter the other already finished
        subprocess.Popen(
            [sys.executable, "-m", "metrika_tui", "sync"],
            env=cli.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    queued = [
        int(line.split(":")[1]) for out, _ in outs for line in out.splitlines() if line.strip().startswith("Queued:")
    ]
    total = sum(len(cli.world.counters_of(t)) for t in cli.world.tokens)
    assert sum(queued) == total  # each counter queued by exactly one of them
    status = cli.json("sync-status", "--json")
    assert status["summary"]["in_sync"] == total


def test_sync_status_tells_each_logins_quota_and_the_datas_freshness(cli):
    cli.add_all_accounts()
    cli.run("sync", check_code=0)
    status = cli.json("sync-status", "--json")
    logins = {a.login: a for a in cli.world.accounts}
    for account in status["accounts"]:
        quota = account["quota"]
        # every request of the login counted: its add (counters list) and its syncs, as the API saw them
        assert quota["used_today"] == cli.sim.quotas.used_today(account["login"]), quota
        assert quota["requests_per_day"] == 5000 and quota["effective_interval_minutes"] == 60
        assert quota["resets_at"].endswith("T00:00:00Z") and not quota["stretched"]
        assert account["login"] in logins
    freshness = status["summary"]["freshness"]
    assert 0 <= freshness["median_age_seconds"] <= freshness["oldest_age_seconds"] < 120
    text = cli.run("sync-status", check_code=0).stdout
    assert "Quota: " in text and "of 5,000 requests today" in text and "Data age: median" in text


@pytest.mark.slow
def test_a_logins_daily_quota_stretches_its_cadence_and_sync_force_takes_only_what_fits(cli):
    cli.add_all_accounts()  # a request each (its counters list)
    cli.run("sync", check_code=0)  # 3 first syncs a login, 2 requests each (90 days: 4 months)
    # 3 counters a login, hourly, need 72 requests a day: a quota of 40 allows each one every 1h 48m
    tight = {"METRIKA_REQUESTS_PER_DAY": "40", "METRIKA_RESERVE_PERCENT": "0"}
    status = json.loads(cli.run("sync-status", "--json", extra_env=tight, check_code=0).stdout)
    for account in status["accounts"]:
        assert account["quota"]["stretched"] and account["quota"]["effective_interval_minutes"] >= 108
    text = cli.run("sync-status", extra_env=tight, check_code=0).stdout
    assert "each counter every 1h 4" in text and "(its quota cannot keep 1h)" in text

    # 9 a day: 7 used, 2 left per login: `sync --force` queues two of its three, and says why (no
    # look-back: a refresh reads this month only, one request, whatever today's date)
    nine = {**tight, "METRIKA_REQUESTS_PER_DAY": "9", "METRIKA_LOOKBACK_DAYS": "0"}
    forced = cli.run("sync", "--force", extra_env=nine, check_code=0).stdout
    assert "Queued: 6" in forced and "Left for later (the login's daily quota): 3" in forced, forced
    assert forced.count("nothing more fits in today's 9 requests (7 used") == 3  # one line per login
    status = cli.json("sync-status", "--json")
    assert all(a["quota"]["used_today"] == 9 for a in status["accounts"])
