"""A process that dies holding leases, as processes see it: on this host its jobs are taken
back at once (the next `sync` does not wait for its lease to run out), from another host
they come back when its lease runs out, a heartbeat after it stopped renewing; either way
the wait is told and the lost lease is counted apart from failed tries. Killing one job's
worker ten times does not fail that job."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import socket
import time
from zoneinfo import ZoneInfo

import pytest

from metrika_tui.processes import ProcessId
from metrika_tui.simulator import LatencyConfig, SimulatorConfig, World
from metrika_tui.store import Store

from .harness import leases_held_by, live_jobs, peek, report, rig, wait_for

SLOW = SimulatorConfig(latency=LatencyConfig(kind="fixed", median_ms=300.0))


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_after_a_daemon_is_killed_mid_pass_the_next_sync_takes_its_jobs_back_at_once(tmp_path, make_env):
    world = World.generate(seed=141, accounts=4, counters_per_account=4)
    with rig(tmp_path, make_env, world, SLOW, METRIKA_LEASE_SECONDS="120") as r:  # the lease is no help
        daemon = r.procs.start("--headless")
        wait_for(lambda: leases_held_by(r.db, daemon.pid) >= 3, 30, "the daemon at work")
        held = leases_held_by(r.db, daemon.pid)
        daemon.kill()  # SIGKILL: no chance to give anything back
        status, text = r.procs.status(), r.procs.run("sync-status").stdout
        started = time.monotonic()
        code, out, err = r.procs.start("sync").finish(60)
        took = time.monotonic() - started
        lost = peek(r.db, "SELECT SUM(lost), SUM(attempts) FROM jobs")[0]
        figures = r.check()
    assert code == 0, out + err
    assert took < 10  # not the 120 s lease
    host = socket.gethostname()
    assert f"{held} jobs held by a process that stopped (pid {daemon.pid} on host {host}), taken back now" in err
    assert lost == (held, 0) and figures.lost == held  # counted as lost, not as failed tries
    # before: sync-status says what holds them, and that nothing syncs them
    note = f"held by a process that stopped (pid {daemon.pid} on host {host}), taken back by the next worker"
    counters = [c for a in status["accounts"] for c in a["counters"]]
    assert [c["state"] for c in counters if c["held_by"] == note] == ["queued"] * held
    assert status["summary"]["syncing"] == 0 and status["summary"]["held_by_stopped_process"] == held
    assert f"({held} held by a process that stopped), syncing: 0" in text and "QUEUED  Counter" in text
    report("daemon killed, then sync", leases_left=held, sync_seconds=round(took, 1))


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_jobs_held_by_a_process_on_another_host_come_back_when_its_lease_runs_out(tmp_path, make_env):
    world = World.generate(seed=142, accounts=2, counters_per_account=3)
    lease, heartbeat = 6, 2
    with rig(
        tmp_path, make_env, world, METRIKA_LEASE_SECONDS=str(lease), METRIKA_HEARTBEAT_SECONDS=str(heartbeat)
    ) as r:
        queued = r.procs.run("sync", "--no-wait")
        assert queued.returncode == 0 and "Queued 6 in " in queued.stdout, queued.stdout
        far = ProcessId("far-away", "another-host-id", 4121, 1000.0)
        claimed_at = dt.datetime.now(dt.UTC)
        asyncio.run(_claim(r.db, far, claimed_at, lease, 3))  # then it dies: no heartbeat ever again
        started = time.monotonic()
        code, out, err = r.procs.start("sync").finish(60)
        took = time.monotonic() - started
        jobs = peek(r.db, "SELECT lost, attempts, started_at FROM jobs WHERE lost > 0")
        figures = r.check()
    assert code == 0, out + err
    back = claimed_at + dt.timedelta(seconds=lease)
    # while its heartbeat is due it is taken to be at work; two missed, it has stopped answering
    running, stopped = [line.strip() for line in err.splitlines() if "far-away" in line]
    assert running == "waiting: 3 jobs running in another process (pid 4121 on host far-away); 3 counters queued"
    at = back.astimezone(ZoneInfo("Europe/Moscow"))  # the default time zone
    assert stopped.startswith("waiting ") and stopped.endswith(
        f": 3 jobs held by a process that stopped answering (pid 4121 on host far-away), taken back at {at:%H:%M:%S};"
        " 3 counters queued"
    )
    assert [(lost, attempts) for lost, attempts, _ in jobs] == [(1, 0)] * 3
    assert all(restarted >= back.timestamp() for _, _, restarted in jobs)  # not taken before its lease ran out
    assert took < lease + 8  # back within the lease, then the pass
    assert figures.lost == 3
    report("held on another host", lease_seconds=lease, sync_seconds=round(took, 1))


async def _claim(db, holder: ProcessId, now: dt.datetime, lease: float, n: int) -> None:
    store = await Store.open(db)
    try:
        for i in range(n):
            assert await store.claim_next_job(f"{holder.label}:w{i}", now, lease, 3, process=holder)
    finally:
        await store.close()


#: ten kills of one job's worker: SIGKILLs (lost leases, below the cap of 5) and stop signals
#: (the job is given back, nothing lost); a second signal gives it back without the grace
KILLS = [
    signal.SIGKILL,
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGKILL,
    signal.SIGHUP,
    signal.SIGTERM,
    signal.SIGKILL,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGKILL,
]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_ten_kills_of_one_jobs_worker_do_not_fail_the_job(tmp_path, make_env):
    world = World.generate(seed=143, accounts=1, counters_per_account=1)
    slow = SimulatorConfig(latency=LatencyConfig(kind="fixed", median_ms=1500.0))
    with rig(tmp_path, make_env, world, slow) as r:
        assert r.procs.run("sync", "--no-wait").returncode == 0
        for sig in KILLS:
            worker = r.procs.start("sync")
            wait_for(lambda: leases_held_by(r.db, worker.pid) == 1, 30, "the job running")
            worker.popen.send_signal(sig)
            if sig != signal.SIGKILL:
                time.sleep(0.2)
                worker.popen.send_signal(sig)  # impatient: give it back now
            worker.popen.wait(15)
            assert live_jobs(r.db) == 1  # still queued (or held by the dead), not failed
        code, out, err = r.procs.start("sync").finish(60)
        ((status, lost, attempts),) = peek(r.db, "SELECT status, lost, attempts FROM jobs")
        figures = r.check()
    assert code == 0 and "Synced: 1" in out, out + err
    assert (status, lost, attempts) == ("done", KILLS.count(signal.SIGKILL), 0)
    assert figures.done_jobs == 1
