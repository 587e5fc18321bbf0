"""Benchmark: freshness under quota (issue 11) over one simulated day. Prints figures; not a test.

How old every counter's data gets in one quota day (00:00 to 24:00 UTC), when Metrika's
per-login quotas, not the program's speed, decide how often a counter can be synced. Three
worlds, each run twice in the same run, on a fresh database and simulator:

- old: the planning before issue 11: 2 report requests a sync (`[sync] month_users =
  "dimension"`) and greedy: at each slot every counter whose last success is older than
  the interval is queued at once, with no budget (`greedy_choose`, handed to the engine in
  place of `planner.choose`: the store runs whatever chooser the engine passes);
- new: the product as it is (one request a sync from the report's totals, the planner).

The real engine (`Engine.plan(trigger=Trigger.SCHEDULE, slot=S)` at each hourly slot, as the
daemon's scheduler calls it, and the default worker pool) talks to the bundled simulator
in this process (httpx's ASGI transport) with Metrika's real per-login quotas: 5,000
requests a day, 200 reports per 5 minutes, 3 in flight. The per-address 30 requests/s is
switched off and the client's max_rps raised, so a day does not take hours of real time
(a login's requests are bounded by its day, not the second, here). The engine, its client
and the simulator share one clock: wall time plus an offset that jumps over idle waits (a
paced refresh's start, a report window, the next slot): `simulator.ShiftingClock`, the fault suite's.

Each world starts in a steady state: every counter synced once before 00:00 (a force-sync
each, the day before): where the quota allows the interval, every counter by the last
slot's pass (23:00); where it does not, one after another, evenly over the floor before
00:00. Then one day is measured: the requests spent (the simulator's count per login), the
429s by kind, every counter's data age (time since its last success) sampled each simulated
minute, max and p95, against the floor `max(interval, counters x cost x 24 h / budget)`
(budget = the daily quota less the 5 % reserve), and the hours in which a login with budget
left synced nothing.

    .venv/bin/python bench/freshness.py [--quick] [--worlds a,b,c] [--latency-ms 20] [--start steady|cold]

--quick: smaller worlds and a daily quota of 1,000 (the same ratio of need to quota in (b)).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import datetime as dt
import math
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, seed_store

from metrika_tui.clock import ShiftingClock
from metrika_tui.engine import planner
from metrika_tui.engine.service import Engine
from metrika_tui.engine.window import steady_cost, sync_cost
from metrika_tui.events import Kind
from metrika_tui.jobs import Trigger
from metrika_tui.metrika import MetrikaClient
from metrika_tui.metrika.oauth import YandexIdClient
from metrika_tui.settings import Settings
from metrika_tui.simulator import (
    LatencyConfig,
    QuotaConfig,
    Simulator,
    SimulatorConfig,
    World,
)
from metrika_tui.store.rows import NewJob, PlanDecision

SEED = 2026
#: the measured day: mid-month, so every refresh's window (the look-back, from the month's
#: first day) stays inside March in every counter's zone: one request with totals, two without
DAY = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
#: the seed's first syncs read from March 1: one request with totals (the default 90 days
#: would read four months, two requests the dimension way; the measured day is the same)
BACKFILL_DAYS = 9
#: the client's own requests-a-second pace, lifted (the simulator's per-address limit is off)
MAX_RPS = 100_000.0
#: what a job may meet besides success, tallied for the day
TROUBLE = {Kind.DEFERRED, Kind.RETRYING, Kind.FAILED}
#: the longest the queue may stay busy without going idle once (a slot's pass of 2,000
#: counters takes ~15 s here): longer is a bug, not a figure
STALL_SECONDS = 600


@dataclass(frozen=True)
class WorldSpec:
    name: str
    logins: int
    counters: int  # per login
    per_day: int  # each login's daily quota

    @property
    def title(self) -> str:
        return f"({self.name}) {self.logins} login{'s' * (self.logins > 1)} x {self.counters} counters"


FULL = [WorldSpec("a", 1, 50, 5000), WorldSpec("b", 1, 500, 5000), WorldSpec("c", 20, 100, 5000)]
#: (b) keeps the full run's need-to-quota ratio: 100 counters hourly against 1,000 a day
QUICK = [WorldSpec("a", 1, 10, 1000), WorldSpec("b", 1, 100, 1000), WorldSpec("c", 4, 20, 1000)]


@dataclass(frozen=True)
class Planning:
    name: str
    month_users: str
    choose: Callable | None  # None: the product's planner


def greedy_choose(
    candidates,
    days,
    *,
    settings: Settings,
    now: dt.datetime,
    moment: dt.datetime,
    mode,
    force: bool = False,
    spread_until=None,
) -> PlanDecision:
    """The planning before issue 11: every counter whose last success is older than the
    interval at the plan's moment (the tick) is queued, at once, whatever its login has
    left today. (A pass ends a little after its slot, so at the next slot nothing is that
    old: every counter is synced every second slot, the bug issue 11 saw first.)"""
    queue, recent, live = [], [], []
    for c in candidates:
        pair = (c.counter_id, c.account_id)
        if c.live:
            live.append(pair)
        elif force or c.last_fetched_at is None or c.last_fetched_at <= moment - settings.interval:
            cost = sync_cost(c.last_fetched_day, c.time_zone, settings, now)
            queue.append(NewJob(c.counter_id, c.account_id, c.login, cost, now, moment))
        else:
            recent.append(pair)
    paces = {login: planner.pace_of(day, settings, now) for login, day in days.items()}
    return PlanDecision(queue, recent, [], live, paces)


OLD = Planning("old", "dimension", greedy_choose)
NEW = Planning("new", "totals", None)


def trouble_of(event) -> str:
    """What a job met, in a word: 'deferred: report_budget' (the client's own budget, nothing
    sent), 'deferred: quota_requests_by_uid to 00:00' (a daily-quota answer), 'retrying'..."""
    if "lease lost" in event.message:
        return "lease lost"
    if event.kind is Kind.DEFERRED:
        kind = event.message.removeprefix("quota ").split(":", 1)[0]
        return f"deferred: {kind}" + (" to 00:00" if "until 00:00:00 UTC" in event.message else "")
    return str(event.kind)


def floor_of(spec: WorldSpec, cost: int, settings: Settings) -> dt.timedelta:
    """The freshest a login's counters can be kept all day: max(interval, N x cost x 24 h / budget)."""
    budget = spec.per_day - settings.reserve_requests
    return max(settings.interval, dt.timedelta(days=1) * (spec.counters * cost / budget))


@dataclass
class DayFigures:
    spec: WorldSpec
    planning: str
    floor: dt.timedelta
    requests: dict[str, int]  # login -> requests the simulator admitted in the day
    rejections: Counter  # 429s of the day by error_type
    budget_deferrals: int  # jobs the client deferred for its own report budget (no request sent)
    syncs: int
    age_max: dt.timedelta  # of the samples, one a simulated minute
    age_p95: dt.timedelta
    age_peak: dt.timedelta  # the exact largest age (just before a sync, or at 24:00)
    idle_hours: int  # login-hours with budget left in which none of its counters was synced
    idle_detail: list[tuple[str, int]]
    seconds: float  # real time of the day (the seed not included)
    skipped: dt.timedelta  # simulated time the clock jumped over
    worst: list[tuple[int, dt.timedelta, dt.datetime]] = field(default_factory=list)  # (counter, peak, at)
    trouble: Counter = field(default_factory=Counter)  # jobs deferred, retried, failed, leases lost
    told: list[str] = field(default_factory=list)  # the engine's last word of a stretched interval

    @property
    def ratio(self) -> float:
        return self.age_max / self.floor


class Day:
    """One world and one planning: seed, then drive the engine through the day."""

    def __init__(self, spec: WorldSpec, planning: Planning, args, tmp: Path) -> None:
        self.spec, self.planning, self.args = spec, planning, args
        self.world = World.generate(seed=SEED, accounts=spec.logins, counters_per_account=spec.counters)
        self.settings = Settings(
            db_path=tmp / "metrika.db",
            api_url="http://metrika.test",
            log_file=tmp / "sync.log",
            backfill_days=BACKFILL_DAYS,
            requests_per_day=spec.per_day,
            max_rps=MAX_RPS,
            month_users=planning.month_users,
        )
        self.cost = steady_cost(self.settings)
        self.budget = spec.per_day - self.settings.reserve_requests
        self.synced: dict[int, list[dt.datetime]] = defaultdict(list)  # counter -> each success
        self.login_of = {cid: a.login for a in self.world.accounts for cid in a.counter_ids}
        self.trouble: Counter = Counter()  # jobs deferred, retried, failed, or whose lease was lost
        self.told: list[str] = []  # what the engine said of a login's stretched interval, the seed's too

    async def run(self) -> DayFigures:
        seed_floor = floor_of(self.spec, 1, self.settings)  # the new planning's steady state
        if self.args.start == "cold":  # every counter by the 23:00 pass, whatever its quota allows
            seed_floor = self.settings.interval
        first_seed = DAY - max(seed_floor, self.settings.interval) - MINUTE
        self.clock = clock = ShiftingClock(first_seed)
        self.world.clock = clock
        latency = LatencyConfig(
            kind="lognormal", median_ms=self.args.latency_ms, sigma=0.5, max_ms=self.args.latency_ms * 10
        )
        quotas = QuotaConfig(per_ip_per_second=None, per_login_per_day=self.spec.per_day)
        self.sim = sim = Simulator(self.world, SimulatorConfig(quotas=quotas, latency=latency, clock=clock, seed=SEED))
        client = MetrikaClient.from_settings(self.settings, transport=httpx.ASGITransport(app=sim.app), clock=clock)
        yandex_id = YandexIdClient(
            "http://yandex-id.test", "http://yandex-id.test", transport=httpx.ASGITransport(app=sim.app)
        )
        self.engine = engine = await Engine.open(self.settings, client=client, clock=clock, yandex_id=yandex_id)
        try:
            await seed_store(engine.store, self.world, now=clock.now())
            engine.bus.subscribe(self._note)
            await engine.start_workers()
            await self._seed(seed_floor)
            return await self._day()
        finally:
            await engine.close()
            await client.aclose()

    def _note(self, event) -> None:
        if event.kind is Kind.DONE and event.counter_id is not None:
            self.synced[event.counter_id].append(self.clock.now())
        elif event.kind in TROUBLE or "lease lost" in event.message:
            self.trouble[trouble_of(event)] += 1
        elif event.kind is Kind.WARNING and "quota allows" in event.message:
            self.told.append(event.message)

    async def _seed(self, floor: dt.timedelta) -> None:
        """Every counter synced once before 00:00, as the new planning keeps them: by the last
        slot's pass where the quota allows the interval, else one after another over the floor."""
        interval = self.settings.interval
        if floor <= interval:
            await self.run_until(DAY - interval)
            await self.engine.plan(force=True, trigger=Trigger.FORCE)
        else:
            per_login = defaultdict(list)
            for a in self.world.accounts:
                per_login[a.login].extend(a.counter_ids)
            moments = sorted(
                (DAY - floor * (len(ids) - k) / len(ids), cid)
                for ids in per_login.values()
                for k, cid in enumerate(ids)
            )
            for moment, cid in moments:
                await self.run_until(moment)
                await self.engine.force_sync(cid)
        await self.run_until(DAY)
        missing = [c for c in self.login_of if not self.synced[c]]
        assert not missing, f"{len(missing)} counters not synced by the seed"

    async def run_until(self, target: dt.datetime) -> None:
        """Let the workers run what may run; when nothing runs and nothing may start, jump to
        the next waiting job (a paced refresh, a report window, a backoff) or to `target`."""
        engine, clock = self.engine, self.clock
        deadline = time.monotonic() + STALL_SECONDS
        while (now := clock.now()) < target:
            # in this order: a job claimed between two of these reads is seen running by the later one
            if await engine.store.has_claimable(now) or await engine.store.running_per_account(now) or engine.pool.busy:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the queue has not gone idle in {STALL_SECONDS} s of real time"
                        f" (simulated {now:%H:%M:%S}, waiting for {target:%H:%M:%S})"
                    )
                await asyncio.sleep(0.002)
                continue
            deadline = time.monotonic() + STALL_SECONDS
            soonest = await engine.store.next_run_after()
            moment = target if soonest is None or soonest >= target else max(soonest, now)
            clock.jump_to(moment)
            engine.pool.wake()

    async def _day(self) -> DayFigures:
        engine, sim = self.engine, self.sim
        admitted = {a.token: sim.stats.for_token(a.token).admitted for a in self.world.accounts}
        rejected = Counter(sim.stats.quota_rejections)
        deferrals = engine.client.stats().budget_deferrals
        before = {cid: list(times) for cid, times in self.synced.items()}
        self.trouble.clear()
        used_at: dict[str, list[int]] = defaultdict(list)  # login -> requests used at each hour's start
        started, skipped = time.perf_counter(), self.clock.skipped
        chooser = self.planning.choose
        patch = mock.patch.object(planner, "choose", chooser) if chooser else contextlib.nullcontext()
        with patch:
            for hour in range(24):
                slot = DAY + hour * HOUR
                await self.run_until(slot)
                for login in {a.login for a in self.world.accounts}:
                    used_at[login].append(sim.quotas.used_today(login))
                await engine.plan(trigger=Trigger.SCHEDULE, slot=slot)
            end = DAY + 24 * HOUR - dt.timedelta(milliseconds=1)
            await self.run_until(end)
        seconds = time.perf_counter() - started
        requests: dict[str, int] = defaultdict(int)
        for a in self.world.accounts:
            requests[a.login] += sim.stats.for_token(a.token).admitted - admitted[a.token]
        day_syncs = sum(len(t) - len(before.get(c, ())) for c, t in self.synced.items())
        figures = DayFigures(
            self.spec,
            self.planning.name,
            floor_of(self.spec, self.cost, self.settings),
            dict(requests),
            Counter(sim.stats.quota_rejections) - rejected,
            engine.client.stats().budget_deferrals - deferrals,
            day_syncs,
            *self._ages(),
            *self._idle_hours(used_at),
            seconds,
            self.clock.skipped - skipped,
        )
        figures.worst = self._worst()
        figures.trouble = Counter(self.trouble)
        figures.told = self.told[-1:] if self.planning is NEW else []  # the old program had no such word
        return figures

    def _ages(self) -> tuple[dt.timedelta, dt.timedelta, dt.timedelta]:
        """Data ages sampled each minute of the day over every counter: (max, p95), and the exact peak."""
        samples: list[float] = []
        peak = dt.timedelta()
        minutes = [DAY + MINUTE * m for m in range(24 * 60)]
        for times in self.synced.values():
            for moment in minutes:
                last = times[bisect.bisect_right(times, moment) - 1]
                samples.append((moment - last).total_seconds())
            peak = max(peak, *self._peaks(times))
        samples.sort()
        p95 = samples[min(len(samples) - 1, math.ceil(0.95 * len(samples)) - 1)]
        return dt.timedelta(seconds=samples[-1]), dt.timedelta(seconds=p95), peak

    @staticmethod
    def _peaks(times: list[dt.datetime]) -> list[dt.timedelta]:
        """Each age a counter reached within the day: just before each of its syncs, and at 24:00."""
        end = DAY + 24 * HOUR
        stops = [t for t in times if DAY < t < end] + [end]
        return [stop - times[bisect.bisect_left(times, stop) - 1] for stop in stops]

    def _worst(self, n: int = 3) -> list[tuple[int, dt.timedelta, dt.datetime]]:
        found = []
        end = DAY + 24 * HOUR
        for cid, times in self.synced.items():
            stops = [t for t in times if DAY < t < end] + [end]
            for stop, age in zip(stops, self._peaks(times)):
                found.append((age, stop, cid))
        return [(cid, age, stop) for age, stop, cid in sorted(found, reverse=True)[:n]]

    def _idle_hours(self, used_at: dict[str, list[int]]) -> tuple[int, list[tuple[str, int]]]:
        """Login-hours in which the login had budget left for a sync and none of its counters
        was synced: (how many, (login, hour) of each)."""
        synced_hours = {
            (self.login_of[cid], int((t - DAY) / HOUR)) for cid, times in self.synced.items() for t in times if t >= DAY
        }
        idle = [
            (login, hour)
            for login, used in used_at.items()
            for hour, u in enumerate(used)
            if u + self.cost <= self.budget and (login, hour) not in synced_hours
        ]
        return len(idle), idle


def minutes(delta: dt.timedelta) -> str:
    m = delta.total_seconds() / 60
    return f"{m:.1f} min" if m < 120 else f"{m / 60:.2f} h"


def clock_time(moment: dt.datetime) -> str:
    """HH:MM of the measured day (its end is 24:00, not the next day's 00:00)."""
    m = round((moment - DAY) / MINUTE)
    return f"{m // 60:02d}:{m % 60:02d}"


def verdicts(fig: DayFigures, settings_interval: dt.timedelta) -> list[tuple[str, bool]]:
    """The issue's targets for this world's new planning."""
    if fig.spec.name == "a":
        return [
            (
                f"max age {minutes(fig.age_max)} <= interval + 5 % ({minutes(settings_interval * 1.05)})",
                fig.age_max <= settings_interval * 1.05,
            )
        ]
    return [
        (f"max age {minutes(fig.age_max)} <= 1.15 x floor ({minutes(fig.floor * 1.15)})", fig.ratio <= 1.15),
        (f"429s: {sum(fig.rejections.values())} (none of any kind)", not fig.rejections),
        (f"hours with budget left and nothing synced: {fig.idle_hours} (none)", fig.idle_hours == 0),
    ]


def row(fig: DayFigures) -> str:
    per_login = fig.requests.values()
    rejected = sum(fig.rejections.values())
    kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(fig.rejections.items())) or "-"
    return (
        f"| {fig.spec.title} | {fig.planning} | {max(per_login):,} / {sum(per_login):,} | {fig.syncs:,} |"
        f" {rejected:,} ({kinds}) | {minutes(fig.age_max)} | {minutes(fig.age_p95)} | {minutes(fig.floor)} |"
        f" {fig.ratio:.2f} | {fig.idle_hours} |"
    )


HEADER = (
    "| world | planning | requests: max per login / total | syncs | 429s (by kind) | age max | age p95 |"
    " floor | max / floor | idle login-hours |\n|---|---|---|---|---|---|---|---|---|---|"
)


async def main(args) -> None:
    specs = [s for s in (QUICK if args.quick else FULL) if s.name in args.worlds]
    defaults = Settings()
    print(f"machine: {machine()}")
    print(
        f"day: {DAY:%Y-%m-%d} 00:00-24:00 UTC; schedule every {defaults.interval_minutes} min, "
        f"{defaults.workers} workers, {defaults.per_token_jobs} running jobs per login; quotas per login: "
        f"{specs[0].per_day:,} requests a day (planning keeps {defaults.reserve_percent} % in reserve), "
        f"200 reports per 5 min, 3 in flight; the per-address 30 requests/s switched off and the client's "
        f"max_rps raised to {MAX_RPS:,.0f} (a login's day, not the second, bounds it here); simulator in "
        f"process (ASGI), latency lognormal median {args.latency_ms:g} ms"
    )
    print(
        "old: 2 requests a sync, greedy (every counter older than the interval, at each slot, no budget); "
        "new: the product (one request a sync from totals, the planner)"
    )
    if args.start == "cold":
        print(
            "start (--start cold): every counter synced by the 23:00 pass the day before, whatever its quota allows\n"
        )
    else:
        print(
            "start: every counter synced once the day before, by a force-sync each: by the 23:00 pass where the "
            "quota allows the interval, else one after another over the new planning's floor before 00:00\n"
        )
    results: list[DayFigures] = []
    total_started = time.perf_counter()
    for spec in specs:
        for planning in (OLD, NEW):
            with tempfile.TemporaryDirectory(prefix="bench-freshness-") as tmp:
                fig = await Day(spec, planning, args, Path(tmp)).run()
            results.append(fig)
            worst = "; ".join(f"{cid} {minutes(age)} at {clock_time(at)}" for cid, age, at in fig.worst)
            print(
                f"{spec.title}, {planning.name}: {fig.syncs:,} syncs, requests {sum(fig.requests.values()):,}, "
                f"429s {dict(fig.rejections) or 0}, client report-budget deferrals {fig.budget_deferrals:,}, "
                f"jobs {dict(fig.trouble) or 'no trouble'}; "
                f"age max {minutes(fig.age_max)} (exact peak {minutes(fig.age_peak)}), p95 {minutes(fig.age_p95)}, "
                f"floor {minutes(fig.floor)}; idle login-hours {fig.idle_hours}; real {fig.seconds:.0f} s for "
                f"the day, {fig.skipped / HOUR:.1f} simulated h skipped; oldest: {worst}",
                flush=True,
            )
            for told in fig.told:
                print(f"  the engine said: {told}")
    print(f"\n{HEADER}")
    for fig in results:
        print(row(fig))
    print(
        "\nfloor = max(interval, counters x cost x 24 h / budget), cost = requests a sync of that planning "
        "(old 2, new 1), budget = daily quota less the reserve; ages sampled each simulated minute over "
        "every counter; idle login-hours: hours in which a login had budget left and synced nothing"
    )
    print("\nTARGETS (new planning):")
    failed = 0
    for old, new in zip(results[::2], results[1::2]):
        gain = old.age_max / new.age_max
        print(
            f"{new.spec.title}: max age old {minutes(old.age_max)} -> new {minutes(new.age_max)} ({gain:.1f}x fresher)"
        )
        for what, ok in verdicts(new, defaults.interval):
            failed += not ok
            print(f"  {'PASS' if ok else 'FAIL'}  {what}")
    print(f"\nreal time: {time.perf_counter() - total_started:.0f} s")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller worlds, a daily quota of 1,000")
    parser.add_argument("--worlds", default="a,b,c", help="which worlds to run (a,b,c)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="the simulator's median latency")
    parser.add_argument(
        "--start",
        choices=("steady", "cold"),
        default="steady",
        help="cold: every counter synced by the 23:00 pass the day before, even where its login's"
        " quota cannot keep that up (the first day after an upgrade): not the targets' start",
    )
    args = parser.parse_args()
    args.worlds = set(args.worlds.split(","))
    if not args.worlds <= {"a", "b", "c"}:
        parser.error("--worlds takes a, b and c")
    asyncio.run(main(args))
