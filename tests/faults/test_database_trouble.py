"""The database in trouble under a running sync: locked by another writer for a while, locked for
longer than the sync will wait, and the disk full when a result is written."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from metrika_tui.simulator import LatencyConfig, SimulatorConfig, World

from .harness import done_jobs, peek, rig, wait_for

pytestmark = pytest.mark.timeout(120)

SLOW = SimulatorConfig(latency=LatencyConfig(kind="fixed", median_ms=100.0))


@contextlib.contextmanager
def exclusive_lock(db: Path) -> Iterator[list[float]]:
    """Another writer holds the database (BEGIN EXCLUSIVE) until the block ends.
    Yields [taken at]; the time it was let go is appended on the way out (wall clock)."""
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        window = [time.time()]
        yield window
        conn.execute("COMMIT")
        window.append(time.time())
    finally:
        conn.close()


def hold_lock(db: Path, seconds: float, windows: list[list[float]]) -> threading.Thread:
    """Take the lock now (before returning), keep it `seconds` from a thread."""
    taken = threading.Event()

    def hold() -> None:
        with exclusive_lock(db) as window:
            taken.set()
            time.sleep(seconds)
        windows.append(window)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert taken.wait(30)
    return thread


def finished_at(db: Path) -> list[float]:
    return [row[0] for row in peek(db, "SELECT finished_at FROM jobs WHERE finished_at IS NOT NULL")]


@pytest.mark.slow
def test_a_briefly_locked_database_makes_the_sync_wait_then_finish(tmp_path, make_env):
    world = World.generate(seed=21, accounts=3, counters_per_account=5)
    with rig(tmp_path, make_env, world, SLOW) as r:
        windows: list[list[float]] = []
        holder = hold_lock(r.db, 1.5, windows)  # locked before the sync starts ...
        sync = r.procs.start("sync")
        holder.join()
        wait_for(lambda: done_jobs(r.db) >= 3, 30, "three counters synced")
        hold_lock(r.db, 2.0, windows).join()  # ... and again in the middle of the pass
        code, out, err = sync.finish(60)
        assert code == 0 and "Sync completed" in out and "Failed: 0" in out, out + err
        assert err == ""
        r.check()
    (_, first_let_go), (taken, let_go) = windows
    assert min(finished_at(r.db)) > first_let_go  # nothing was planned or claimed before the first lock went
    # results that came back while the second lock was held waited for it, and were kept
    assert [t for t in finished_at(r.db) if taken < t < let_go]


@pytest.mark.slow
def test_a_lock_held_past_the_busy_timeout_stops_the_sync_with_a_clear_error(tmp_path, make_env):
    world = World.generate(seed=22, accounts=2, counters_per_account=5)
    with rig(tmp_path, make_env, world, SLOW, METRIKA_LEASE_SECONDS="3") as r:
        sync = r.procs.start("sync", faults={"FAULT_BUSY_TIMEOUT_MS": "300"})
        wait_for(lambda: done_jobs(r.db) >= 2, 30, "two counters synced")
        windows: list[list[float]] = []
        holder = hold_lock(r.db, 2.5, windows)
        code, out, err = sync.finish(60)
        holder.join()
        assert code == 1, out + err
        assert (
            err.strip().splitlines()[-1] == f"metrika-tui: database: {r.db} stayed locked by another process for 0.3s"
        )
        # once the lock is gone, the next sync finishes the pass (leases left behind expire)
        again = r.procs.run("sync")
        assert again.returncode == 0, again.stdout + again.stderr
        r.check()


@pytest.mark.slow
@pytest.mark.parametrize("command", [["sync", "--force"], ["--headless", "--once"]], ids=["sync", "once"])
def test_a_full_disk_is_a_clear_error_and_nothing_is_corrupted(tmp_path, make_env, command):
    world = World.generate(seed=23, accounts=2, counters_per_account=4)
    with rig(tmp_path, make_env, world) as r:
        first = r.procs.run("sync")
        assert first.returncode == 0, first.stdout + first.stderr
        earlier = peek(r.db, "SELECT counter_id, date FROM daily_stats ORDER BY 1, 2")
        if command[0] != "sync":  # --once works what is due: make the pass due
            assert r.procs.run("sync", "--force", "--no-wait").returncode == 0
        reports = r.sim.stats.by_endpoint["data"]
        full = r.procs.run(*command, faults={"FAULT_DISK_PAGES_LEFT": "0"})
        assert full.returncode == 1, full.stdout + full.stderr
        assert r.sim.stats.by_endpoint["data"] > reports  # it fetched, and failed writing the result
        message = f"metrika-tui: database: {r.db}: the disk is full; nothing was written (free space and retry)"
        assert full.stderr.strip().splitlines()[-1] == message, full.stderr
        assert peek(r.db, "PRAGMA integrity_check") == [("ok",)]
        assert set(earlier) <= set(peek(r.db, "SELECT counter_id, date FROM daily_stats"))
        assert not peek(r.db, "SELECT id FROM jobs WHERE status = 'running' OR lease_owner IS NOT NULL")
        # space again: the interrupted pass is finished by the next run, and nothing was lost
        again = r.procs.run("sync")
        assert again.returncode == 0, again.stdout + again.stderr
        r.check(passes=2)
