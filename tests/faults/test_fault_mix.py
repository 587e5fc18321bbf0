"""Every kind of trouble at once, against the simulator over loopback: 503, 504, 500 with an
HTML body, truncated JSON, dropped connections, slow answers, and 429 bursts of each quota
(per address per second, parallel per token, the 5-minute report window, per token per day,
per counter per day). The sync must still finish with every counter synced once.

The engine runs in this process so it can share a clock with the simulator: time flows as
usual, and when every job left waits for a quota reset (midnight UTC) or a backoff, the clock
jumps there instead of the test sitting it out.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import time
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from metrika_tui.engine.accounts import add_account
from metrika_tui.engine.job import SHORT_QUOTA_WAIT
from metrika_tui.engine.service import Engine
from metrika_tui.events import Kind
from metrika_tui.jobs import Trigger
from metrika_tui.metrika import MetrikaClient, RetryPolicy
from metrika_tui.settings import Settings
from metrika_tui.simulator import FaultConfig, LatencyConfig, QuotaConfig, Simulator, SimulatorConfig, World
from metrika_tui.tokens import Token

from .conftest import soak
from .harness import BACKFILL_DAYS, ShiftingClock, report
from .invariants import check_invariants

FAULTS = FaultConfig(
    backend_error=0.05,
    timeout=0.05,
    html_500=0.05,
    malformed_json=0.05,
    drop_connection=0.05,
    slow=0.05,
    slow_seconds=0.6,
)
#: tighter than the client keeps to (30 rps, 3 in flight, 200 reports per 5 min), and daily
#: quotas a pass outgrows: every quota answers 429 in bursts
QUOTAS = QuotaConfig(
    per_ip_per_second=8,
    parallel_per_login=1,
    reports_per_window=8,
    report_window_seconds=300,
    per_login_per_day=30,
    per_counter_per_day=4,
)
QUOTA_KINDS = {
    "quota_requests_by_ip",
    "quota_parallel_requests",
    "quota_requests_by_uid",
    "quota_requests_by_counter_id",
}
#: quick in-process retries: the test is about what happens when they run out
RETRY = RetryPolicy(attempts=3, initial_wait=0.02, max_wait=0.2, total=2.0)


@contextlib.asynccontextmanager
async def engine_on(tmp_path, url: str, clock, **settings) -> AsyncIterator[Engine]:
    base = {"workers": 6, "backfill_days": BACKFILL_DAYS, "log_file": tmp_path / "sync.log"}
    resolved = Settings(db_path=tmp_path / "metrika.db", api_url=url, oauth_url=url, login_url=url, **(base | settings))
    client = MetrikaClient.from_settings(resolved, retry=RETRY, clock=clock)
    engine = await Engine.open(resolved, client=client, clock=clock)
    try:
        yield engine
    finally:
        await engine.close()
        await client.aclose()


@contextlib.asynccontextmanager
async def clock_skips_waits(engine: Engine, clock: ShiftingClock) -> AsyncIterator[list[float]]:
    """While no job runs here, jump the clock to the next waiting job's time; yields the skips."""
    skips: list[float] = []

    async def follow() -> None:
        while True:
            await asyncio.sleep(0.02)
            running = await engine.store.running_per_account(clock.now())
            soonest = await engine.store.next_run_after()
            if not running and not engine.pool.busy and soonest is not None and soonest > clock.now():
                skips.append(clock.jump_to(soonest))
                engine.pool.wake()

    task = asyncio.get_running_loop().create_task(follow())
    try:
        yield skips
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def wait_idle(engine: Engine, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while await engine.store.queue_depth():
        assert time.monotonic() < deadline, "the pass did not finish"
        await asyncio.sleep(0.05)


@pytest.mark.slow
@pytest.mark.timeout(soak(90, 1800))
async def test_every_fault_and_every_quota_at_once(tmp_path, rng):
    clock = ShiftingClock()
    world = World.generate(seed=41, accounts=soak(4, 12), counters_per_account=soak(10, 20), clock=clock)
    latency = LatencyConfig(kind="lognormal", median_ms=15.0, sigma=0.6, max_ms=400.0)
    sim = Simulator(world, SimulatorConfig(latency=latency, clock=clock, seed=rng.randrange(2**32)))
    started = time.monotonic()
    with sim.serve_in_thread(host="127.0.0.1", port=0) as url:
        async with engine_on(tmp_path, url, clock, max_attempts=10, request_timeout=3.0) as engine:
            for token in world.tokens:
                await add_account(engine, Token(token), user_id=None)
            sim.quotas.config = QUOTAS
            sim.set_faults(FAULTS)
            deferrals: list[tuple[dt.datetime, str]] = []
            engine.bus.subscribe(lambda e: e.kind is Kind.DEFERRED and deferrals.append((clock.now(), e.message)))
            first_day = clock.now().date()
            async with clock_skips_waits(engine, clock) as skips:
                plan = await engine.plan(trigger=Trigger.MANUAL)
                await engine.start_workers()
                await wait_idle(engine, soak(60, 1500))
            assert len(plan.queued) == world.counter_count()
        stats = sim.stats.snapshot()
    figures = await check_invariants(tmp_path / "metrika.db", world, backfill_days=BACKFILL_DAYS)

    assert set(stats["faults"]) == set(FAULTS.rates()) - {"too_complicated"}, stats["faults"]
    assert set(stats["quota_rejections"]) == QUOTA_KINDS, stats["quota_rejections"]
    waits = Counter("midnight" if "until 00:00:00" in m else re.sub(r"[^a-z_ ].*", "", m) for _, m in deferrals)
    assert waits["midnight"] and waits["quota quota_requests_by_uid"], waits  # a daily reset and the report window
    # a quota of the second (per address, parallel) that outlasted the quick retries waits seconds, not a minute
    short = [waited(at, m) for at, m in deferrals if "by_ip" in m or "parallel" in m]
    assert short and max(short) <= SHORT_QUOTA_WAIT + 1, short
    report(
        "fault mix",
        faults=stats["faults"],
        faults_total=stats["faults_total"],
        rejections=stats["quota_rejections"],
        requests=stats["requests"],
        deferrals=dict(waits),
        clock_skips=len(skips),
        skipped_hours=round(sum(skips) / 3600, 1),
        days_crossed=(clock.now().date() - first_day).days,
        counters=figures.counters,
        failed_tries_absorbed=figures.attempts,
        seconds=round(time.monotonic() - started, 1),
    )


def waited(at: dt.datetime, message: str) -> float:
    """Seconds from `at` to the 'waiting until HH:MM:SS UTC' of a deferral message."""
    until = dt.time.fromisoformat(re.search(r"until (\d\d:\d\d:\d\d) UTC", message)[1])
    moment = dt.datetime.combine(at.date(), until, tzinfo=dt.UTC)
    if moment < at - dt.timedelta(seconds=1):  # the time is shown to the second: past midnight
        moment += dt.timedelta(days=1)
    return (moment - at).total_seconds()


class _BrokenFor:
    """A client that raises something no job expects (a bug) for one counter."""

    def __init__(self, client, counter_id: int) -> None:
        self._client, self.counter_id = client, counter_id

    def __getattr__(self, name):
        return getattr(self._client, name)

    async def read_window(self, token, counter_id, requests, **kw):
        if counter_id == self.counter_id:
            raise ZeroDivisionError("a bug")
        return await self._client.read_window(token, counter_id, requests, **kw)


async def test_a_job_that_raises_the_unexpected_fails_alone(tmp_path):
    world = World.generate(seed=42, accounts=2, counters_per_account=3)
    broken = world.accounts[0].counter_ids[0]
    with Simulator(world).serve_in_thread(host="127.0.0.1", port=0) as url:
        async with engine_on(tmp_path, url, ShiftingClock(), workers=2) as engine:
            for token in world.tokens:
                await add_account(engine, Token(token), user_id=None)
            real, engine.client = engine.client, _BrokenFor(engine.client, broken)
            engine.pool.client = engine.client
            outcomes = await asyncio.wait_for(engine.run_until_idle(set((await engine.plan()).queued)), 20)
            assert {o.counter_id: o.error for o in outcomes if not o.ok} == {
                broken: "internal error: ZeroDivisionError: a bug"
            }
            # the workers lived on: with the bug gone, a retry syncs it
            engine.client = engine.pool.client = real
            await engine.retry_failed(broken)
            await asyncio.wait_for(engine.run_until_idle({broken}), 20)
            assert [j.status for j in await engine.store.job_history(broken)] == ["done", "failed"]
