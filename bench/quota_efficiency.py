"""Benchmark: how much of Metrika's quota a sync uses. Prints figures; not a test.

2,000 counters over 40 tokens, synced by the real Engine (plan + run_until_idle, default
settings unless --workers) on a temporary database, against the simulator on loopback HTTP
with the real quotas (30 requests/s per address, 3 in flight per token, 200 reports per
5 minutes per token, 5,000 a day) and a long-tailed latency (lognormal, median 300 ms).

The ideal time is what the quotas allow for the requests the sync needs (see `ideal`);
efficiency = ideal / actual. In the same run, the same sync by the alternatives, each on a
fresh simulator and database:
- a plain sequential loop (one request at a time: claim, daily report, monthly users,
  write), timed on a sample of counters and extrapolated;
- a fixed pool of 4 workers (the original deployment ran 4 queue workers), timed on a
  share of the counters and extrapolated (--full-baselines times every counter).

    .venv/bin/python bench/quota_efficiency.py [--counters 2000] [--tokens 40] [--workers N]
        [--latency-ms 300] [--sigma 0.7] [--quick] [--full-baselines]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import latency_quantile_seconds, machine, mean_latency_seconds, seed_store, simulator

from metrika_tui.engine.job import combine
from metrika_tui.engine.planner import PlanMode, choose
from metrika_tui.engine.service import Engine
from metrika_tui.engine.window import fetch_window, window_requests
from metrika_tui.events import Kind
from metrika_tui.jobs import Outcome
from metrika_tui.settings import Settings
from metrika_tui.simulator import LatencyConfig, QuotaConfig, SimulatorConfig, World

SEED = 2026
#: a first sync reads `backfill_days` (90) moved back to the 1st of the month (at most 121 days):
#: one page of the daily report (pages of 10,000 rows) and one of the monthly users (job.py)
NEEDED_PER_COUNTER = 2


@dataclass
class Run:
    name: str
    counters: int  # counters synced in the timed part
    seconds: float
    requests: int  # answered 200 by the simulator
    rejected: dict  # 429s by error_type
    peak_rps: int
    max_in_flight: int
    retries: int
    budget_waits: int

    @property
    def per_counter(self) -> float:
        return self.seconds / self.counters

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def sim_config(args, *, instant: bool = False) -> SimulatorConfig:
    """The real quotas and a long-tailed latency; `instant`: neither (the engine's own ceiling)."""
    if instant:
        return SimulatorConfig(quotas=QuotaConfig.unlimited(), seed=SEED)
    latency = LatencyConfig(kind="lognormal", median_ms=args.latency_ms, sigma=args.sigma, max_ms=args.max_latency_ms)
    quotas = QuotaConfig(reports_per_window=args.report_budget, report_window_seconds=args.report_window)
    return SimulatorConfig(quotas=quotas, latency=latency, seed=SEED)


#: what the client keeps to by itself, lifted for the ceiling run
NO_CLIENT_LIMITS = {"max_rps": 100_000.0, "report_budget": 1_000_000}


def settings_for(tmp: Path, url: str, workers: int | None, **changes) -> Settings:
    extra = {"workers": workers} if workers else {}
    return Settings(db_path=tmp / "metrika.db", api_url=url, log_file=tmp / "metrika.log", **extra, **changes)


def budget_of(args) -> dict:
    """The client keeps to the report budget the simulator enforces (both from the flags)."""
    return {"report_budget": args.report_budget, "report_window_seconds": args.report_window}


def serve(world: World, args, *, instant: bool = False):
    """A fresh simulator (fresh quotas) for one run: (base URL, its stats)."""
    per_account = len(world.accounts[0].counter_ids)
    config = sim_config(args, instant=instant)
    return simulator(SEED, len(world.accounts), per_account, config, in_thread=args.in_thread)


def finish(name: str, counters: int, seconds: float, stats: dict, client) -> Run:
    mine = client.stats()
    return Run(
        name,
        counters,
        seconds,
        stats["ok"],
        stats["quota_rejections"],
        stats["peak_requests_per_second"],
        stats["max_in_flight_per_token"],
        mine.retries,
        mine.budget_deferrals,
    )


async def engine_sync(
    world: World, args, *, workers: int | None, name: str, stop_after: int | None = None, instant: bool = False
) -> Run:
    """The real engine: plan every counter, work the queue; `stop_after`: time the first N jobs.
    `instant`: an API with no quotas and no latency, and a client that keeps to none."""
    changes = NO_CLIENT_LIMITS if instant else budget_of(args)
    with (
        tempfile.TemporaryDirectory(prefix="bench-quota-") as tmp,
        serve(world, args, instant=instant) as (url, sim_stats),
    ):
        engine = await Engine.open(settings_for(Path(tmp), url, workers, **changes))
        try:
            total = await seed_store(engine.store, world)
            done = 0
            enough = asyncio.Event()

            def count(event) -> None:
                nonlocal done
                if event.kind is Kind.DONE:
                    done += 1
                    if done >= (stop_after or total):
                        enough.set()

            engine.bus.subscribe(count)
            started = time.perf_counter()
            plan = await engine.plan(force=True)
            assert len(plan.queued) == total, plan
            if stop_after:
                await engine.start_workers()
                await enough.wait()
                elapsed, counters = time.perf_counter() - started, done
            else:
                outcomes = await engine.run_until_idle()
                if sum(o.ok for o in outcomes) < total:
                    # run_until_idle (what `sync` does) stops waiting for jobs deferred more than
                    # 2 minutes (a spent report budget); the workers, like the daemon's, go on
                    waiting = [o for o in outcomes if not o.ok]
                    assert all(o.outcome is Outcome.STILL_QUEUED for o in waiting), waiting[:3]
                    print(
                        f"  (run_until_idle returned with {len(waiting)} counters deferred for the report "
                        f"budget, after {time.perf_counter() - started:.0f} s; the workers go on)"
                    )
                    await enough.wait()
                elapsed, counters = time.perf_counter() - started, done
                assert counters == total, f"{total - counters} counters not synced"
            return finish(name, counters, elapsed, sim_stats(), engine.client)
        finally:
            await engine.close()


async def sequential_sync(world: World, args, sample: int) -> Run:
    """One request at a time: claim a job, read its daily report, then its monthly users,
    write the result; the next counter. The same store, client and quotas as the engine."""
    with tempfile.TemporaryDirectory(prefix="bench-quota-") as tmp, serve(world, args) as (url, sim_stats):
        settings = settings_for(Path(tmp), url, 1, **budget_of(args))
        engine = await Engine.open(settings)  # only for its store and client: no worker runs
        store, client = engine.store, engine.client
        try:
            await seed_store(store, world)
            started = time.perf_counter()
            now = dt.datetime.now(dt.UTC)
            await store.plan_jobs(
                now=now,
                choose=partial(choose, settings=settings, now=now, moment=now, mode=PlanMode.RESERVE, force=True),
            )
            for _ in range(sample):
                now = dt.datetime.now(dt.UTC)
                job = await store.claim_next_job("sequential", now, settings.lease_seconds, settings.per_token_jobs)
                date1, date2 = fetch_window(job.last_fetched_day, job.time_zone, settings, now)
                requests = window_requests(date1, date2, settings.month_users)
                reports = await client.read_window(job.token, job.counter_id, requests, login=job.login)
                daily, months = combine(requests, reports)
                raw = [("report", p) for r in reports for p in r.raw_pages]
                assert await store.record_fetch(
                    job, now=dt.datetime.now(dt.UTC), daily=daily, month_users=months, raw_pages=raw, newest_day=date2
                )
            return finish("sequential loop", sample, time.perf_counter() - started, sim_stats(), client)
        finally:
            await engine.close()


def ideal(world: World, config: SimulatorConfig, requests_per_counter: float) -> tuple[float, list[str]]:
    """The least time the quotas allow for the sync's requests, and how it was reckoned.

    Each bound is a time no client can beat; the ideal is the largest of them:
    - per address: R requests at Q_ip a second: R / Q_ip;
    - in flight per token: a token's R_t requests, at most P at a time, each taking the
      mean latency L: R_t * L / P (tokens work in parallel, so the busiest token counts);
    - report budget per token: B reports per window W; a token needing R_t > B sends its
      last k = ceil(R_t / B) - 1 windows after its first, then its last r = R_t - k * B
      requests, P at a time: k * W + r * L / P (0 when R_t <= B: the other bounds hold);
    - per day per token (D): the same with D and a day.
    """
    q = config.quotas
    per_token = [len(a.counter_ids) * requests_per_counter for a in world.accounts]
    total = sum(per_token)
    busiest = max(per_token)
    mean = mean_latency_seconds(config.latency)
    p = q.parallel_per_login
    k = -(-busiest // q.reports_per_window) - 1
    last = busiest - k * q.reports_per_window
    days = -(-busiest // q.per_login_per_day) - 1
    bounds = {
        f"per address: R / Q_ip = {total:.0f} / {q.per_ip_per_second}": total / q.per_ip_per_second,
        f"in flight per token: R_t * L / P = {busiest:.0f} * {mean:.3f} / {p}": busiest * mean / p,
        f"report budget: k * W + r * L / P, k = ceil({busiest:.0f} / {q.reports_per_window}) - 1 = {k:.0f}, "
        f"r = {last:.0f}: {k:.0f} * {q.report_window_seconds:g} + {last:.0f} * {mean:.3f} / {p}": k
        * q.report_window_seconds
        + last * mean / p
        if k
        else 0.0,
        f"per day: (ceil(R_t / D) - 1) * 86400 = (ceil({busiest:.0f} / {q.per_login_per_day}) - 1) * 86400": days
        * 86400.0,
    }
    best = max(bounds.values())
    lines = [f"  {'->' if v == best else '  '} {k} = {v:.1f} s" for k, v in bounds.items()]
    return best, lines


def describe(run: Run) -> str:
    rejected = sum(run.rejected.values())
    kinds = f" ({', '.join(f'{k} {v}' for k, v in run.rejected.items())})" if rejected else ""
    return (
        f"{run.counters} counters in {run.seconds:.1f} s; {run.rps:.1f} requests/s; "
        f"peak {run.peak_rps} in one second; at most {run.max_in_flight} in flight per token; "
        f"429s: {rejected}{kinds}; client retries {run.retries}, report-budget waits {run.budget_waits}"
    )


async def main(args) -> None:
    per_account = args.counters // args.tokens
    world = World.generate(seed=SEED, accounts=args.tokens, counters_per_account=per_account)
    total = per_account * args.tokens
    config = sim_config(args)
    lat = config.latency
    print(f"machine: {machine()}")
    print(
        f"world: {total} counters over {args.tokens} tokens; simulator latency lognormal median "
        f"{lat.median_ms:.0f} ms, sigma {lat.sigma}, cap {lat.max_ms:.0f} ms (mean "
        f"{mean_latency_seconds(lat) * 1000:.0f} ms, p99 {latency_quantile_seconds(lat, 0.99) * 1000:.0f} ms); "
        f"quotas: {config.quotas}"
        f"{'' if (args.report_budget, args.report_window) == (200, 300) else ' (report budget set by flags)'}"
    )
    workers = args.workers or Settings().workers
    print(
        f"engine: {workers} workers ({'--workers' if args.workers else 'the default'}), "
        f"backfill {Settings().backfill_days} days\n"
    )

    main_run = await engine_sync(world, args, workers=args.workers, name="engine")
    needed = NEEDED_PER_COUNTER * total
    best, lines = ideal(world, config, NEEDED_PER_COUNTER)
    print(f"ENGINE ({workers} workers): {describe(main_run)}")
    print(
        f"  requests the sync needs: R = {needed} ({NEEDED_PER_COUNTER} per counter: the daily report and the "
        f"monthly users, one page each); answered: {main_run.requests}"
        f"{f' ({main_run.requests - needed} read again after a deferral)' if main_run.requests > needed else ''}; "
        f"tokens T = {args.tokens}, R_t = {NEEDED_PER_COUNTER * per_account}; "
        f"mean latency L = {mean_latency_seconds(lat):.3f} s"
    )
    print("  ideal time = the largest bound the quotas set:")
    print("\n".join(lines))
    print(
        f"  ideal {best:.1f} s, actual {main_run.seconds:.1f} s -> efficiency {best / main_run.seconds:.2f}"
        f" (target >= 0.90), 429s: {sum(main_run.rejected.values())} (target 0)\n"
    )

    if args.engine_only:
        return
    share = total if args.full_baselines else min(total, args.pool_counters)
    pool = await engine_sync(world, args, workers=4, name="pool of 4", stop_after=None if share == total else share)
    pool_total = pool.per_counter * total
    note = "" if share == total else f" (timed on the first {pool.counters}, extrapolated)"
    print(f"POOL OF 4 WORKERS: {describe(pool)}")
    print(f"  {total} counters: {pool_total:.0f} s{note}\n")

    sample = min(total, args.sequential_sample)
    seq = await sequential_sync(world, args, sample)
    seq_total = seq.per_counter * total
    print(f"SEQUENTIAL LOOP: {describe(seq)}")
    print(f"  {total} counters: {seq_total:.0f} s (timed on {sample} counters, extrapolated)\n")

    print(f"SUMMARY for {total} counters over {args.tokens} tokens:")
    print(
        f"  engine ({workers} workers)  {main_run.seconds:8.1f} s  efficiency {best / main_run.seconds:.2f}  "
        f"429s {sum(main_run.rejected.values())}"
    )
    print(
        f"  pool of 4 workers   {pool_total:8.1f} s  efficiency {best / pool_total:.2f}  "
        f"-> engine {pool_total / main_run.seconds:.1f}x faster"
    )
    print(
        f"  sequential loop     {seq_total:8.1f} s  efficiency {best / seq_total:.2f}  "
        f"-> engine {seq_total / main_run.seconds:.1f}x faster"
    )
    print(f"  ideal (quotas)      {best:8.1f} s")

    ceiling = await engine_sync(world, args, workers=args.workers, name="ceiling", instant=True)
    print(
        f"\nENGINE CEILING (an instant API without quotas, the client's limits lifted; the same store, "
        f"{workers} workers): {ceiling.counters / ceiling.seconds:.0f} counters/s, {ceiling.rps:.0f} requests/s "
        f"-> {ceiling.rps / config.quotas.per_ip_per_second:.1f}x the {config.quotas.per_ip_per_second} a second "
        f"the quotas allow: the engine and its database are not what limits a sync"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counters", type=int, default=2_000)
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--workers", type=int, default=None, help="engine workers (default: the settings' default)")
    parser.add_argument("--latency-ms", type=float, default=300.0, help="median latency")
    parser.add_argument("--sigma", type=float, default=0.7, help="lognormal shape: the tail")
    parser.add_argument("--max-latency-ms", type=float, default=10_000.0)
    parser.add_argument("--report-budget", type=int, default=200, help="report requests per token per window")
    parser.add_argument("--report-window", type=float, default=300.0, help="the report budget's window, seconds")
    parser.add_argument("--sequential-sample", type=int, default=60, help="counters the sequential loop is timed on")
    parser.add_argument("--pool-counters", type=int, default=500, help="counters the pool of 4 is timed on")
    parser.add_argument("--full-baselines", action="store_true", help="time the pool of 4 on every counter")
    parser.add_argument(
        "--in-thread",
        action="store_true",
        help="serve the simulator from a thread of this process (default: a process of its own)",
    )
    parser.add_argument("--engine-only", action="store_true", help="skip the baselines (for tuning)")
    parser.add_argument("--quick", action="store_true", help="400 counters over 8 tokens, small samples (~1 min)")
    args = parser.parse_args()
    if args.quick:
        args.counters, args.tokens = 400, 8
        args.sequential_sample, args.pool_counters = 20, 100
    if args.counters < args.tokens:
        parser.error("need at least one counter per token")
    asyncio.run(main(args))
