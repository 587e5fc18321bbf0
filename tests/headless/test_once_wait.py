"""`metrika-tui --headless --once` and a spent quota, as a real process, with the report budget
scaled down to 4 report requests per 5 s (a job reads 2): like `sync`, the pass waits out the
window (bounded by `pass_max_wait`: the window and a minute) and says so, once per wait; a
deferral beyond the bound (the daily quota) ends it at once, those counters still queued."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import subprocess
import sys
import time

import pytest

from metrika_tui.simulator import QuotaConfig, Simulator, SimulatorConfig, World

COMMAND = [sys.executable, "-m", "metrika_tui"]
BUDGET, WINDOW = 4, 5
#: pass_max_wait: the window and a minute; at the real 5-minute window, 6 minutes
BOUND_SECONDS, REAL_BOUND_SECONDS = WINDOW + 60, 300 + 60


@pytest.fixture
def scaled(tmp_path, make_env):
    """`scaled(world, quotas)`: the simulator serving `world` with `quotas`, the accounts added,
    the client keeping to the same report budget; returns (env, simulator)."""

    def start(world: World, quotas: QuotaConfig):
        sim = Simulator(world, SimulatorConfig(quotas=quotas))
        url = served.enter_context(sim.serve_in_thread(host="127.0.0.1", port=0))
        (tmp_path / "config.toml").write_text(f"[api]\nreport_window_seconds = {quotas.report_window_seconds:g}\n")
        env = make_env(url) | {"METRIKA_REPORT_BUDGET": str(quotas.reports_per_window)}
        for token in world.tokens:
            subprocess.run(
                [*COMMAND, "accounts", "add"], input=token, env=env, text=True, check=True, capture_output=True
            )
        return env, sim

    with contextlib.ExitStack() as served:
        yield start


def once(env: dict) -> tuple[subprocess.CompletedProcess, list[dict], float]:
    started = time.monotonic()
    proc = subprocess.run(
        [*COMMAND, "--headless", "--once", "--log-format", "json"], env=env, capture_output=True, text=True, timeout=60
    )
    took = time.monotonic() - started
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, [json.loads(line) for line in proc.stdout.splitlines()], took


def waits(events: list[dict]) -> list[dict]:
    return [e for e in events if "wait_seconds" in e.get("data", {})]


def answered_reports(sim: Simulator) -> int:
    stats = sim.stats
    return stats.by_endpoint["data"] + stats.by_endpoint["bytime"] - sum(stats.quota_rejections.values())


@pytest.mark.slow
def test_once_waits_out_a_spent_report_budget_and_says_what_for(scaled):
    world = World.generate(seed=63, accounts=2, counters_per_account=3)  # 6 report requests a token: 2 windows
    env, sim = scaled(world, QuotaConfig(reports_per_window=BUDGET, report_window_seconds=WINDOW))

    proc, events, took = once(env)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert events[-1]["message"] == "pass complete: 6 synced, 0 failed, 0 already in sync"
    # told once a wait, not once a poll: one line, or two if one account's budget frees a second
    # or more after the other's
    first, *later = waits(events)
    logins = " and ".join(a.login for a in world.accounts)
    assert first["kind"] == "info" and first["message"].startswith("waiting ")
    assert first["message"].endswith(f": report budget of accounts {logins} spent (4 per 5 s); 2 counters queued")
    assert first["data"]["queued"] == 2 and 0 < first["data"]["wait_seconds"] <= WINDOW + 1
    assert first["data"]["max_wait_seconds"] == BOUND_SECONDS  # the bound is sync's, not the old 2 minutes
    assert len(later) <= 1 and all(w["message"].startswith("waiting ") for w in later), later
    assert WINDOW <= took < 4 * WINDOW + 10  # the window and the process's start-up
    assert answered_reports(sim) == 12 and not sim.stats.quota_rejections  # none read twice


def test_once_does_not_wait_for_a_quota_beyond_the_bound(scaled):
    now = dt.datetime.now(dt.UTC)
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
    if (midnight - now).total_seconds() < REAL_BOUND_SECONDS + 30:
        pytest.skip("the daily quota resets within the bound: the pass would wait it out")
    world = World.generate(seed=64, accounts=1, counters_per_account=4)
    # the real report budget; the token's day allows 6 requests: the account's discovery and 5
    # reports, so a counter or two stay unread until midnight UTC
    env, sim = scaled(world, QuotaConfig(per_login_per_day=6))

    proc, events, took = once(env)

    assert proc.returncode == 1, proc.stdout + proc.stderr
    (stopped,) = waits(events)
    assert stopped["kind"] == "warning" and stopped["level"] == "warning"
    assert (
        stopped["message"].startswith("not waiting ")
        and " (beyond the pass's 6m): quota of account " in stopped["message"]
    )
    assert "Daily quota" in stopped["message"] and stopped["message"].endswith(" stay queued")
    assert stopped["data"]["wait_seconds"] > REAL_BOUND_SECONDS == stopped["data"]["max_wait_seconds"]
    synced, queued = stopped_counts(events[-1]["message"])
    assert synced + queued == 4 and queued == stopped["data"]["queued"] >= 1
    assert f"{queued} still queued (the next may run in " in events[-1]["message"]
    assert took < 20  # it did not wait for midnight


def stopped_counts(summary: str) -> tuple[int, int]:
    """(synced, still queued) from "pass complete: 2 synced, 0 failed, 2 still queued (...), 0 already in sync"."""
    words = summary.removeprefix("pass complete: ").split()
    assert words[2:4] == ["0", "failed,"], summary
    return int(words[0]), int(words[4])
