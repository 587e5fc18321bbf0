"""`sync` and a spent report budget, with the budget scaled down to 4 report requests per 5 s
(a job reads 2): it waits out the window and says so on stderr, once per wait; `--max-wait`
bounds that wait, and a counter deferred beyond it stays queued (exit 1)."""

from __future__ import annotations

import time

import pytest

from metrika_tui.simulator import QuotaConfig, World

BUDGET, WINDOW = 4, 5


@pytest.fixture
def sim_world():
    return World.generate(seed=63, accounts=2, counters_per_account=3)  # 6 report requests a token: 2 windows


@pytest.fixture
def budget_cli(cli, tmp_path):
    """The simulator and the client both keep to the scaled budget; the accounts are added."""
    cli.sim.quotas.config = QuotaConfig(reports_per_window=BUDGET, report_window_seconds=WINDOW)
    (tmp_path / "config.toml").write_text(f"[api]\nreport_window_seconds = {WINDOW}\n")
    cli.env["METRIKA_REPORT_BUDGET"] = str(BUDGET)
    cli.add_all_accounts()
    return cli


def logins(cli) -> str:
    return " and ".join(a.login for a in cli.world.accounts)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("-5", "cannot be negative"),
        ("--max-wait=-5m", "cannot be negative"),
        ("soon", "expected seconds or a time like 90s, 10m, 1h30m, got 'soon'"),
        ("10x", "got '10x'"),
        ("", "got ''"),
        ("25h", "at most 24h"),
        ("9" * 400, "at most 24h"),
    ],
)
def test_max_wait_refuses_what_is_not_a_wait(cli, value, fragment):
    args = [value] if value.startswith("--") else ["--max-wait", value]
    proc = cli.run("sync", *args)  # the command checks there is no traceback
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert fragment in proc.stderr and "--max-wait" in proc.stderr


@pytest.mark.slow
def test_sync_waits_out_the_report_window_and_says_what_for(budget_cli):
    started = time.monotonic()
    proc = budget_cli.run("sync", check_code=0)
    took = time.monotonic() - started

    assert "Synced: 6" in proc.stdout and "Failed: 0" in proc.stdout
    # told once a wait, not once a poll: one line, or two if one account's budget frees a
    # second or more after the other's
    first, *later = [line.strip() for line in proc.stderr.splitlines()]
    assert first.startswith("waiting ")
    assert first.endswith(f": report budget of accounts {logins(budget_cli)} spent (4 per 5 s); 2 counters queued")
    assert len(later) <= 1 and all(line.startswith("waiting ") for line in later), proc.stderr
    assert WINDOW <= took < 4 * WINDOW
    assert answered_reports(budget_cli) == 12 and not budget_cli.sim.stats.quota_rejections  # none twice


@pytest.mark.slow
def test_a_deferral_beyond_max_wait_exits_1_with_those_counters_still_queued(budget_cli):
    proc = budget_cli.run("sync", "--max-wait", "0s")

    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Synced: 4" in proc.stdout and "Failed: 2" in proc.stdout
    assert proc.stdout.count(": still queued: quota report_budget: waiting until") == 2
    assert "Still queued: 2, the next may run in " in proc.stdout
    (line,) = proc.stderr.splitlines()
    assert line.strip().startswith("not waiting ") and "(beyond --max-wait 0s): report budget of accounts" in line
    assert line.endswith("; 2 counters stay queued")

    # the next sync finishes them: they were kept queued, and the rest is not read again
    again = budget_cli.run("sync", "--max-wait", "1m", check_code=0)
    assert "Already queued: 2" in again.stdout and "Synced: 2" in again.stdout
    assert answered_reports(budget_cli) == 12


def answered_reports(cli) -> int:
    stats = cli.sim.stats
    return stats.by_endpoint["data"] + stats.by_endpoint["bytime"] - sum(stats.quota_rejections.values())
