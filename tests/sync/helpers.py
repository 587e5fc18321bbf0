"""The real engine and store against the real simulator, in-process (httpx.ASGITransport), on one
manual clock shared by the engine, the client and the simulator: leases, backoff and quota resets
are walked through by moving the clock, never by waiting.

Every test here runs on each backend (tests/sync/conftest.py): each `rig()` opens its engines on
a fresh store of the backend the test runs on (`RIG_STORES`), a SQLite file or a PostgreSQL database."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from metrika_tui.clock import ManualClock
from metrika_tui.engine.accounts import add_account
from metrika_tui.engine.service import Engine
from metrika_tui.events import Event
from metrika_tui.metrika import MetrikaClient, RetryPolicy
from metrika_tui.metrika.oauth import YandexIdClient
from metrika_tui.models import month_start
from metrika_tui.settings import Settings
from metrika_tui.simulator import QuotaConfig, Simulator, SimulatorConfig, World
from metrika_tui.store import Store
from metrika_tui.store_location import StoreLocation
from metrika_tui.tokens import Token

#: noon UTC: every zone the simulator hands out (UTC+2..+10) is on the same date
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
#: a first sync reads Jan 30 .. Mar 10, moved back to Jan 1: two whole months and a partial one
BACKFILL_DAYS = 40
FAST_RETRY = RetryPolicy(attempts=2, initial_wait=0.001, max_wait=0.01, total=1.0)
#: the per-address quota counts requests per second of the clock; on a frozen clock it would
#: only ever fill up, so it is off. Every per-token quota stays on.
NO_IP_QUOTA = QuotaConfig(per_ip_per_second=None)


#: a fresh store for a rig, given its folder (set per test by tests/sync/conftest.py)
RIG_STORES: contextvars.ContextVar[Callable[[Path], StoreLocation]] = contextvars.ContextVar(
    "RIG_STORES", default=lambda folder: StoreLocation.file(folder / "metrika.db")
)


def settings_for(db: StoreLocation | Path, folder: Path | None = None, **changes) -> Settings:
    """Settings on `db`, the log file in `folder` (by default the database file's)."""
    folder = folder or StoreLocation.parse(db).path.parent
    defaults = {"log_file": folder / "sync.log", "workers": 4, "backfill_days": BACKFILL_DAYS}
    return Settings(db_path=db, **{**defaults, **changes})


def client_for(app, clock: ManualClock, **limits) -> MetrikaClient:
    """`limits`: what-ifs of the client's own quota keeping (report_budget, report_window_seconds)."""
    return MetrikaClient(
        "http://metrika.test",
        transport=httpx.ASGITransport(app=app),
        retry=FAST_RETRY,
        max_rps=10_000,
        clock=clock,
        **limits,
    )


def yandex_id_for(app) -> YandexIdClient:
    """Yandex ID (the login info, the OAuth server) served by the same simulator, in process."""
    return YandexIdClient("http://yandex-id.test", "http://yandex-id.test", transport=httpx.ASGITransport(app=app))


@dataclass
class Rig:
    """A world, its simulator, and the clock everything reads."""

    world: World
    sim: Simulator
    clock: ManualClock
    db: StoreLocation
    folder: Path
    engines: list[Engine] = field(default_factory=list)

    async def engine(self, app=None, **settings) -> Engine:
        """Another engine (its own database connection and client) on the rig's database; its
        client keeps to the settings' report budget and window."""
        budget = {k: settings[k] for k in ("report_budget", "report_window_seconds") if k in settings}
        client = client_for(app or self.sim.app, self.clock, **budget)
        engine = await Engine.open(
            settings_for(self.db, self.folder, **settings),
            client=client,
            clock=self.clock,
            yandex_id=yandex_id_for(self.sim.app),
        )
        self.engines.append(engine)
        return engine

    def set_clock(self, moment: dt.datetime) -> None:
        """Move time, and tell idle workers to look now rather than at their next poll."""
        self.clock.set(moment)
        for engine in self.engines:
            engine.pool.wake()

    async def close(self) -> None:
        for engine in self.engines:
            await engine.close()
            await engine.client.aclose()


@contextlib.asynccontextmanager
async def rig(tmp_path: Path, world: World, **sim_config) -> AsyncIterator[Rig]:
    clock = ManualClock(NOW)
    world.clock = clock
    sim = Simulator(world, SimulatorConfig(clock=clock, **{"quotas": NO_IP_QUOTA, **sim_config}))
    tmp_path.mkdir(parents=True, exist_ok=True)
    the_rig = Rig(world, sim, clock, RIG_STORES.get()(tmp_path), tmp_path)
    try:
        yield the_rig
    finally:
        await the_rig.close()


async def add_accounts(engine: Engine, world: World, tokens: list[str] | None = None) -> dict[str, int]:
    """Each token added through the API (counters discovered); token -> account id."""
    ids = {}
    for token in world.tokens if tokens is None else tokens:
        account, _ = await add_account(engine, Token(token), user_id=None)
        ids[token] = account.id
    return ids


@contextlib.asynccontextmanager
async def clock_follows_the_queue(rig: Rig, engine: Engine) -> AsyncIterator[list[float]]:
    """While nothing runs, move the clock to the next waiting job (a backoff) and wake the
    workers. Yields the list of jumps made, in seconds."""
    jumps: list[float] = []

    async def follow() -> None:
        while True:
            await asyncio.sleep(0.005)
            if await engine.store.running_per_account(rig.clock.now()):
                continue
            soonest = await engine.store.next_run_after()
            if soonest is not None and soonest > rig.clock.now():
                jumps.append((soonest - rig.clock.now()).total_seconds())
                rig.set_clock(soonest)

    task = asyncio.get_running_loop().create_task(follow())
    try:
        yield jumps
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def record_events(engine: Engine) -> list[Event]:
    events: list[Event] = []
    engine.bus.subscribe(events.append)
    return events


# -- what the world says the store should hold -------------------------------------------------


def first_sync_window(world: World, counter_id: int, now: dt.datetime) -> tuple[dt.date, dt.date]:
    """Issue 3: a first sync reads the backfill through today in the counter's zone; the start is
    moved back to the first of its month so every month is read whole."""
    today = world.local_now(counter_id, now).date()
    return month_start(today - dt.timedelta(days=BACKFILL_DAYS - 1)), today


def months_of(first: dt.date, last: dt.date) -> list[dt.date]:
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


async def assert_store_matches_world(store: Store, world: World, counter_id: int, now: dt.datetime) -> int:
    """Every daily row equals the world's day; every month: users at month grain, rates
    visit-weighted over the world's days, sums for the rest. Returns how many months had
    fewer users than the sum of their days' users (so a caller can see that was tested)."""
    first, today = first_sync_window(world, counter_id, now)
    world_days = [d for d in world.days(counter_id, first, today, now) if d.visits]  # the API omits empty days
    stored = await store.daily_stats(counter_id)
    assert [d.date for d in stored] == [d.date for d in world_days], counter_id
    for got, want in zip(stored, world_days):
        assert (got.visits, got.users, got.pageviews) == (want.visits, want.users, want.pageviews), want.date
        assert got.bounce_rate == pytest.approx(want.bounce_rate, abs=1e-6), want.date
        assert got.avg_visit_duration == pytest.approx(want.avg_visit_duration, abs=1e-6), want.date

    fewer = 0
    monthly = {m.month: m for m in await store.monthly_stats(counter_id)}
    assert sorted(monthly) == [m for m in months_of(first, today) if any(month_start(d.date) == m for d in world_days)]
    for month, got in monthly.items():
        days = [d for d in world_days if month_start(d.date) == month]
        if month == month_start(today):  # the month so far, at month grain
            assert got.users == world.period_users(counter_id, month, today, now), month
        else:
            assert got.users == world.month_users(counter_id, month, now), month
        if len(days) >= 2:  # people come back: the month's users are fewer than the days' sum
            assert got.users < sum(d.users for d in days), month
            fewer += 1
        visits = sum(d.visits for d in days)
        assert (got.visits, got.pageviews, got.days) == (visits, sum(d.pageviews for d in days), len(days))
        assert got.bounce_rate == pytest.approx(sum(d.bounce_rate * d.visits for d in days) / visits, abs=1e-6)
        assert got.avg_visit_duration == pytest.approx(
            sum(d.avg_visit_duration * d.visits for d in days) / visits, abs=1e-6
        )
    return fewer
