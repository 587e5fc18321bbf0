"""Three daemons and a console-less `sync` started together on one database, with some trouble
on the line: they share one pass (each counter planned once and synced once, by whichever
process claimed it), and never run more than 3 requests at once for one token."""

from __future__ import annotations

import time

import pytest

from metrika_tui.simulator import FaultConfig, LatencyConfig, SimulatorConfig, World

from .conftest import soak
from .harness import live_jobs, peek, report, rig, wait_for

TROUBLE = FaultConfig(backend_error=0.02, drop_connection=0.02, malformed_json=0.02, html_500=0.02)


@pytest.mark.slow
@pytest.mark.timeout(soak(120, 1800))
def test_three_daemons_and_a_sync_share_one_pass(tmp_path, make_env, rng):
    world = World.generate(seed=51, accounts=3, counters_per_account=soak(10, 60))
    latency = LatencyConfig(kind="lognormal", median_ms=60.0, sigma=0.5, max_ms=500.0)
    config = SimulatorConfig(latency=latency, faults=TROUBLE, seed=rng.randrange(2**32))
    started = time.monotonic()
    with rig(tmp_path, make_env, world, config, METRIKA_WORKERS="6") as r:
        sync = r.procs.start("sync")
        daemons = [r.procs.start("--headless") for _ in range(3)]
        code, out, err = sync.finish(soak(90, 1500))
        assert code == 0 and "Failed: 0" in out, out + err
        wait_for(lambda: not live_jobs(r.db), 60, "the daemons to finish their share")
        stopped = [daemon.stop() for daemon in daemons]
        assert [code for code, _, _ in stopped] == [0, 0, 0], stopped
        figures = r.check()
        planned = peek(r.db, "SELECT trigger, origin, queued FROM sync_runs")
        done_by = dict(peek(r.db, "SELECT origin, COUNT(*) FROM events WHERE kind = 'done' GROUP BY origin"))
    stats = r.sim.stats.snapshot()
    assert sum(queued for _, _, queued in planned) == world.counter_count()  # each counter planned once
    assert len({origin for _, origin, _ in planned}) == 4  # every process planned (most found it done)
    assert sum(done_by.values()) == world.counter_count() and len(done_by) >= 2, done_by
    assert stats["max_in_flight_per_token"] <= 3, stats
    # the token limit and the per-address rate hold across processes (one pace for the host)
    assert "quota_parallel_requests" not in stats["quota_rejections"], stats["quota_rejections"]
    assert "quota_requests_by_ip" not in stats["quota_rejections"], stats["quota_rejections"]
    report(
        "three daemons and a sync",
        counters=figures.counters,
        done_by_process=sorted(done_by.values()),
        faults=stats["faults"],
        rejections=stats["quota_rejections"],
        requests=stats["requests"],
        max_in_flight_per_token=stats["max_in_flight_per_token"],
        failed_tries_absorbed=figures.attempts,
        seconds=round(time.monotonic() - started, 1),
    )
