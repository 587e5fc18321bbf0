"""Several hosts working one queue: three `--headless` daemons, each sending from a loopback
address and host id of its own, and a `sync` on the first host, on one database (a SQLite
file, then PostgreSQL: `store_backend`) against one simulator whose per-address quota is the
hosts' pace.

Then: one slot planned once, every counter synced exactly once in it (no duplicate job,
the world's figures), never more than 3 requests of a login in flight at once across the
hosts, no login over its report window or its day, no 429 of any kind (the simulator's
watch lists every request the real API would have refused: none). And a host SIGKILLed
mid-pass: the other hosts cannot see its pid, so they wait for its leases to run out
(never take a job sooner) and then do its jobs; how long that took is measured.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from faults.invariants import check_invariants

from metrika_tui.events import Kind
from metrika_tui.simulator import LatencyConfig, QuotaConfig, Simulator, SimulatorConfig, World
from metrika_tui.store import HeldJob, Store
from metrika_tui.store_location import StoreLocation

from .hosts import Host, Hosts

BACKFILL_DAYS = 10
LEASE_SECONDS = 6  # heartbeat: a third, 2 s
DAEMONS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
#: requests a second per address: the client's pace and the simulator's quota (and watch), so
#: the rate binds each host and the work spreads over all of them; Metrika's is 30
RATE = 5


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


async def no_live_jobs(store: Store) -> bool:
    return not any((await store.live_job_counts(dt.datetime.now(dt.UTC))).values())


async def held_by(store: Store, host: Host) -> list[HeldJob]:
    return [job for job in await store.held_jobs() if job.pid == host.pid]


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_three_hosts_and_a_sync_share_one_queue_and_take_over_a_killed_host(
    tmp_path: Path, make_env: Callable[[str], dict[str, str]], store_backend: StoreLocation
) -> None:
    database = store_backend
    # more logins than workers: a login's 3 running jobs are not all held by one host
    world = World.generate(seed=15, accounts=8, counters_per_account=5)
    per_address = QuotaConfig(per_ip_per_second=RATE)
    latency = LatencyConfig(kind="fixed", median_ms=300.0)
    sim = Simulator(world, SimulatorConfig(quotas=per_address, watch=per_address, latency=latency))
    with sim.serve_in_thread(host="0.0.0.0", port=0) as url:
        env = make_env(url) | {
            "METRIKA_DB": database.url or str(database.path),
            "METRIKA_BACKFILL_DAYS": str(BACKFILL_DAYS),
            "METRIKA_LEASE_SECONDS": str(LEASE_SECONDS),
            "METRIKA_MAX_RPS": str(RATE),
            "METRIKA_WORKERS": "2",
            "METRIKA_SYNC_INTERVAL_MINUTES": "1440",  # one slot for the whole test
        }
        hosts = Hosts(env, tmp_path)
        store = None
        try:
            for token in world.tokens:
                added = hosts.run(DAEMONS[0], "accounts", "add", stdin=token + "\n")
                assert added.returncode == 0, added.stderr
            daemons = [hosts.start(address, "--headless") for address in DAEMONS]
            sync = hosts.start(DAEMONS[0], "sync")  # the first host's cron job, beside its daemon
            code, out, err = sync.finish(120)
            assert code == 0, out + err
            store = await Store.open(database)
            await wait_until(lambda: no_live_jobs(store), 60, "the first pass")

            # the first pass: one slot, planned once, each counter synced once
            assert len(await store.planned_slots()) == 1
            await check_invariants(database, world, passes=1, backfill_days=BACKFILL_DAYS)

            # the second pass, and one host SIGKILLed holding leases
            queued = hosts.run(DAEMONS[0], "sync", "--force", "--no-wait")
            assert queued.returncode == 0, queued.stderr
            victim = daemons[1]
            await wait_until(lambda: _holds(store, victim), 60, f"a lease held by {victim.address}")
            victim.kill()
            killed_at = dt.datetime.now(dt.UTC)
            orphans = await held_by(store, victim)  # what it held when it died (it writes no more)
            assert orphans
            await wait_until(lambda: no_live_jobs(store), LEASE_SECONDS + 60, "the second pass")
            taken_over = await _taken_over(store, orphans, victim)
            for host in (daemons[0], daemons[2]):
                code, out, err = host.stop()
                assert code == 0, out + err
        finally:
            hosts.kill_the_rest()
            if store is not None:
                await store.close()

    figures = await check_invariants(database, world, passes=2, backfill_days=BACKFILL_DAYS)
    assert figures.lost >= len(orphans)  # each job it held was taken back, not failed
    stats = sim.stats.snapshot()
    assert sim.stats.violations() == [], stats["violations"]  # 3 in flight, 200 per window, the day, the rate
    assert stats["quota_rejections"] == {} and stats["rejected"] == 0, stats
    assert stats["max_in_flight_per_token"] <= 3, stats  # one token a login here
    assert set(stats["by_address"]) == set(DAEMONS), stats["by_address"]  # every host sent its share
    # the others waited for the dead host's leases to run out, then did its jobs
    for job, claimed, _ in taken_over:
        assert job.lease_expires_at is not None and claimed >= job.lease_expires_at, (job, claimed)
    recovery = max(finished for _, _, finished in taken_over) - killed_at
    assert recovery <= dt.timedelta(seconds=LEASE_SECONDS + 15), recovery
    line = {
        "test": "multihost",
        "backend": database.kind,
        "hosts": len(DAEMONS),
        "counters": figures.counters,
        "done_jobs": figures.done_jobs,
        "requests_by_address": stats["by_address"],
        "orphaned_jobs": len(orphans),
        "lease_seconds": LEASE_SECONDS,
        "taken_over_after_s": round(max((claimed - killed_at).total_seconds() for _, claimed, _ in taken_over), 2),
        "done_after_s": round(recovery.total_seconds(), 2),
    }
    print(f"\nfigures {json.dumps(line)}")


async def _holds(store: Store, host: Host) -> bool:
    return bool(await held_by(store, host))


async def _taken_over(
    store: Store, orphans: list[HeldJob], victim: Host
) -> list[tuple[HeldJob, dt.datetime, dt.datetime]]:
    """Each job the dead host held, with when another host claimed it and when it was done
    (checked: done, by another process, its lost lease counted)."""
    events = [e for e in await store.events_since(None, limit=100_000) if e.kind is Kind.DONE]
    done_by = {e.job_id: e.origin for e in events}
    found = []
    for job in orphans:
        (record,) = [r for r in await store.job_history(job.counter_id, 10) if r.id == job.id]
        assert record.status == "done" and record.lost >= 1, record
        assert done_by[job.id].rsplit(":", 1)[1] != str(victim.pid), done_by[job.id]
        assert record.started_at is not None and record.finished_at is not None
        found.append((job, record.started_at, record.finished_at))
    return found
