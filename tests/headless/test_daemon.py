"""`metrika-tui --headless`, as a real process: syncs on its own, shares a database, stops cleanly."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metrika_tui.events import Kind
from metrika_tui.simulator import LatencyConfig, Simulator, SimulatorConfig, World
from metrika_tui.store import Store

COMMAND = [sys.executable, "-m", "metrika_tui"]


def start(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([*COMMAND, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def status(env: dict) -> dict:
    out = subprocess.run([*COMMAND, "sync-status", "--json"], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def states(env: dict) -> list[str]:
    return [c["state"] for a in status(env)["accounts"] for c in a["counters"]]


def add_accounts(env: dict, world: World) -> None:
    for token in world.tokens:
        subprocess.run([*COMMAND, "accounts", "add"], input=token, env=env, text=True, check=True, capture_output=True)


async def _done_jobs_per_counter(db: Path, trigger: str | None = None) -> dict[int, int]:
    """Done jobs of each counter (of one trigger: 'startup', 'schedule', ...)."""
    store = await Store.open(db)
    try:
        rows = await store.counter_rows()
        return {
            r.id: sum(j.status == "done" and trigger in (None, j.trigger) for j in await store.job_history(r.id, 100))
            for r in rows
        }
    finally:
        await store.close()


async def _slots(db: Path) -> list[tuple[str, str]]:
    store = await Store.open(db)
    try:
        return await store.planned_slots()
    finally:
        await store.close()


@pytest.mark.slow
def test_demo_daemon_syncs_on_its_own_and_never_loads_textual(tmp_path, make_env):
    env = make_env("http://127.0.0.1:9")  # --demo brings its own simulator
    env.pop("METRIKA_DB")
    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "metrika_tui", "--headless", "--demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    total = sum(len(a.counter_ids) for a in World.demo().accounts)
    lines: list[str] = []
    try:
        while sum(" done " in line for line in lines) < total:
            lines.append(proc.stdout.readline())
            assert proc.poll() is None, "the daemon exited early"
        assert states_demo(env) == {"ok"}
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "daemon started" in "".join(lines) and "daemon stopped" in out
    imported = [line.rsplit("|", 1)[-1].strip() for line in err.splitlines() if line.startswith("import time:")]
    assert "metrika_tui.engine.runtime" in imported
    assert not [m for m in imported if m.split(".")[0] == "textual"]
    log_file = Path(env["METRIKA_DATA_DIR"]) / "logs" / "sync.log"
    assert " done " in log_file.read_text()


def states_demo(env: dict) -> set[str]:
    out = subprocess.run(
        [*COMMAND, "sync-status", "--json", "--demo"], env=env, capture_output=True, text=True, check=True
    )
    data = json.loads(out.stdout)
    return {c["state"] for a in data["accounts"] for c in a["counters"]}


@pytest.mark.slow
def test_once_exits_0_when_all_synced_and_1_when_some_failed(tmp_path, make_env):
    world = World.generate(seed=3, accounts=2, counters_per_account=2)
    sim = Simulator(world, SimulatorConfig())
    with sim.serve_in_thread(host="127.0.0.1", port=0) as url:
        env = make_env(url)
        add_accounts(env, world)
        first = subprocess.run([*COMMAND, "--headless", "--once"], env=env, capture_output=True, text=True, timeout=90)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "pass complete: 4 synced, 0 failed" in first.stdout
        sim.revoke(world.tokens[1])
        forced = subprocess.run([*COMMAND, "sync", "--force", "--no-wait"], env=env, capture_output=True, text=True)
        assert forced.returncode == 0
        second = subprocess.run(
            [*COMMAND, "--headless", "--once", "--log-format", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert second.returncode == 1, second.stdout + second.stderr
    events = [json.loads(line) for line in second.stdout.splitlines()]
    assert any(e["kind"] == "revoked" for e in events)
    assert world.tokens[1] not in second.stdout
    assert sorted(states(env)) == ["ok", "ok", "revoked", "revoked"]


@pytest.mark.slow
def test_sigterm_mid_pass_exits_cleanly_and_a_restart_finishes_the_pass(tmp_path, make_env):
    world = World.generate(seed=4, accounts=3, counters_per_account=12)
    sim = Simulator(world, SimulatorConfig(latency=LatencyConfig(kind="fixed", median_ms=250.0)))
    with sim.serve_in_thread(host="127.0.0.1", port=0) as url:
        env = make_env(url)
        add_accounts(env, world)
        daemon = start(env, "--headless")
        seen: list[str] = []
        while sum(" done " in line for line in seen) < 3:
            seen.append(daemon.stdout.readline())
        stopped_at = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        out, _ = daemon.communicate(timeout=40)
        took = time.monotonic() - stopped_at
        assert daemon.returncode == 0
        assert took < 25  # the grace period is 20 s; running jobs finish well within it
        after_stop = states(env)
        assert "syncing" not in after_stop  # every lease was given back or finished
        assert "ok" in after_stop and ("queued" in after_stop)  # stopped mid-pass
        rerun = subprocess.run([*COMMAND, "--headless", "--once"], env=env, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert set(states(env)) == {"ok"}
    done = asyncio.run(_done_jobs_per_counter(Path(env["METRIKA_DB"])))
    assert set(done.values()) == {1}, done  # every counter synced exactly once: nothing lost, nothing twice


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_three_daemons_plan_each_slot_once_and_respect_the_token_limit(tmp_path, make_env):
    world = World.generate(seed=6, accounts=2, counters_per_account=10)
    sim = Simulator(world, SimulatorConfig(latency=LatencyConfig(kind="fixed", median_ms=80.0)))
    with sim.serve_in_thread(host="127.0.0.1", port=0) as url:
        env = make_env(url) | {"METRIKA_SYNC_INTERVAL_MINUTES": "1", "METRIKA_WORKERS": "6"}
        add_accounts(env, world)
        daemons = [start(env, "--headless") for _ in range(3)]
        try:
            wait_for(lambda: set(states(env)) == {"ok"}, 60, "the start-up pass")
            # the start-up covers the slot it starts in; the next one is a tick's
            wait_for(lambda: len(asyncio.run(_slots(Path(env["METRIKA_DB"])))) >= 2, 75, "a scheduled slot")
            # the barrier: every daemon has told its tick of that slot (planned it, or found it planned)
            wait_for(lambda: _every_daemon_ticked(asyncio.run(_ticks(Path(env["METRIKA_DB"]))), 3), 30, "3 ticks")
        finally:
            for d in daemons:
                d.send_signal(signal.SIGTERM)
            outputs = [d.communicate(timeout=40)[0] for d in daemons]
    assert [d.returncode for d in daemons] == [0, 0, 0]
    slots = asyncio.run(_slots(Path(env["METRIKA_DB"])))
    assert len({slot for slot, _ in slots}) == len(slots)  # each slot once
    ticks = asyncio.run(_ticks(Path(env["METRIKA_DB"])))
    assert any(len(told) == 3 for told in ticks.values()), ticks  # a slot every daemon tried
    for slot, told in ticks.items():  # exactly one planner per slot, the one its slot row names
        planners = [origin for origin, planned in told.items() if planned]
        assert len(planners) == 1, (slot, told)
        assert planners[0] in {origin for _, origin in slots}, (slot, told, slots)
    stats = sim.stats.snapshot()
    assert stats["max_in_flight_per_token"] <= 3, stats
    assert not stats["quota_rejections"].get("quota_parallel_requests"), stats
    startup = asyncio.run(_done_jobs_per_counter(Path(env["METRIKA_DB"]), "startup"))
    assert set(startup.values()) == {1}  # the start-up passes of three daemons made one job per counter
    scheduled = asyncio.run(_done_jobs_per_counter(Path(env["METRIKA_DB"]), "schedule"))
    assert max(scheduled.values()) <= len(slots)  # and each slot one at most
    assert sum("daemon started" in out for out in outputs) == 3


async def _ticks(db: Path) -> dict[str, dict[str, bool]]:
    """Slot (as a tick tells it, "10:01 MSK") -> origin of each process that ticked it -> whether
    that process planned it (else it found the slot planned by another), from the shared event log."""
    store = await Store.open(db)
    try:
        events = await store.events_since(None, limit=100_000)
    finally:
        await store.close()
    ticks: dict[str, dict[str, bool]] = {}
    for e in events:
        if e.kind is Kind.TICK and (told := re.match(r"slot (\d\d:\d\d \S+?)(:| was planned by another)", e.message)):
            ticks.setdefault(told[1], {})[e.origin] = told[2] == ":"
    return ticks


def _every_daemon_ticked(ticks: dict[str, dict[str, bool]], daemons: int) -> bool:
    return bool(ticks) and all(len(told) == daemons for told in ticks.values())


async def _schedule_jobs(db: Path) -> dict[int, list[float]]:
    """Counter -> the slot each of its done schedule jobs was planned for (from the database)."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT counter_id, planned_for FROM jobs WHERE trigger = 'schedule' AND status = 'done'")
        found: dict[int, list[float]] = {}
        for cid, planned in rows:
            found.setdefault(cid, []).append(planned)
    return found


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_the_daemon_syncs_every_counter_at_every_slot(tmp_path, make_env):
    """Watched over slots, not one pass: with a 1-minute interval and passes that end after
    their slot (300 ms answers), every slot queues every counter — the old due rule queued
    them at every second slot only ('queued 0, skipped 3 recently synced'). Three counters a
    minute at one request each (no look-back: a refresh reads this month only, whatever the
    date) are 4,320 requests a day: within the login's quota, so nothing is stretched."""
    world = World.generate(seed=8, accounts=1, counters_per_account=3)
    sim = Simulator(world, SimulatorConfig(latency=LatencyConfig(kind="fixed", median_ms=300.0)))
    with sim.serve_in_thread(host="127.0.0.1", port=0) as url:
        env = make_env(url) | {"METRIKA_SYNC_INTERVAL_MINUTES": "1", "METRIKA_LOOKBACK_DAYS": "0"}
        add_accounts(env, world)
        while time.time() % 60 > 20:  # start early in a minute: its start-up pass is no sync "just before" the slot
            time.sleep(0.5)
        daemon = start(env, "--headless")
        db = Path(env["METRIKA_DB"])
        try:
            # the start-up covers the slot it starts in; two slots after it are ticks
            wait_for(lambda: len(asyncio.run(_slots(db))) >= 3 and set(states(env)) == {"ok"}, 170, "two slots")
        finally:
            daemon.send_signal(signal.SIGTERM)
            out, _ = daemon.communicate(timeout=40)
    ticks = [line for line in out.splitlines() if " slot " in line and "queued" in line]
    assert len(ticks) >= 2 and all("queued 3, skipped 0 recently synced, 0 already" in line for line in ticks), ticks
    slots = sorted(dt_slot for dt_slot, _ in asyncio.run(_slots(db)))[1:]  # the ticks' (the first: the start-up's)
    per_counter = asyncio.run(_schedule_jobs(db))
    assert sorted(per_counter) == sorted(world.accounts[0].counter_ids)
    for planned in per_counter.values():  # one sync a slot, each for its own slot
        assert len(planned) == len(set(planned)) == len(slots)


@pytest.mark.slow
def test_the_daemon_tells_other_processes_events_as_theirs(tmp_path, make_env):
    world = World.generate(seed=7, accounts=1, counters_per_account=2)
    sim = Simulator(world, SimulatorConfig())
    with sim.serve_in_thread(host="127.0.0.1", port=0) as url:
        env = make_env(url)
        add_accounts(env, world)
        daemon = start(env, "--headless")
        seen: list[str] = []
        try:
            while sum(" done " in line for line in seen) < 2:  # its start-up pass
                seen.append(daemon.stdout.readline())
            forced = subprocess.Popen(
                [*COMMAND, "sync", "--force", "--no-wait"], env=env, stdout=subprocess.PIPE, text=True
            )
            forced.communicate(timeout=60)
            theirs = f"[other: {socket.gethostname()}:{forced.pid}] "
            while not any(theirs in line for line in seen):
                seen.append(daemon.stdout.readline())
        finally:
            daemon.send_signal(signal.SIGTERM)
            out, _ = daemon.communicate(timeout=30)
    lines = seen + out.splitlines()
    (planned,) = [line for line in lines if theirs in line]
    assert planned.split()[3:6] == ["planned", *theirs.split()]  # after the time and level, before the words
    assert f"{theirs}sync: queued 2" in planned
    assert not [line for line in lines if "[other: " in line and theirs not in line]  # its own lines are its own
    logged = (Path(env["METRIKA_DATA_DIR"]) / "logs" / "sync.log").read_text()
    assert f"{theirs}sync: queued 2" in logged
