"""Benchmark: `metrika-tui sync` and a spent report budget, the old bound against the new one.
Prints figures; not a test.

A scaled what-if of a sync needing 2.5 report windows a token (by default 100 counters over
4 tokens, a first sync: 2 report requests a counter, 50 a token, against a budget of 20 per
150 s window). The same pass runs twice in one run, each on a fresh database against a fresh
simulator (in a process of its own; latency lognormal, median 300 ms, sigma 0.7):

- old bound: `metrika-tui sync --max-wait 2m`: the previous behaviour, when `sync` gave up once
  every job left was deferred more than 2 minutes (`run_until_idle`'s default);
- new bound: `metrika-tui sync`, waiting up to its default `--max-wait` (`pass_max_wait`: the
  report window and a minute).

The command itself runs, as a process, as users and cron run it: its client keeps to the
scaled budget through `METRIKA_REPORT_BUDGET` and `[api] report_window_seconds` in its config
file, and the simulator enforces the same. The accounts and counters are written into the
database beforehand (`common.seed_store`: no API call, so every request the simulator answers
is a report of the pass). Wall time is the process's, from its start to its exit; the ideal is
`quota_efficiency.ideal` (the largest bound the quotas set: here the report budget's,
k x W + r x L / P), efficiency = ideal / wall.

    .venv/bin/python bench/sync_wait.py [--counters 100] [--tokens 4] [--report-budget 20]
        [--report-window 150] [--old-max-wait 120] [--quick]

~6 min. --quick: 40 counters over 4 tokens, budget 10 per 40 s, and the old bound scaled down
to 30 s (the real 2 minutes would never bite at a 40 s window): under a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, mean_latency_seconds, seed_store
from quota_efficiency import NEEDED_PER_COUNTER, SEED, ideal, serve, sim_config

from metrika_tui.engine.service import MAX_WAIT_FOR_DEFERRED
from metrika_tui.engine.waits import pass_max_wait
from metrika_tui.settings import Settings
from metrika_tui.simulator import World
from metrika_tui.store import Store
from metrika_tui.timefmt import duration


@dataclass
class Pass:
    name: str
    exit_code: int
    wall: float  # the process, start to exit
    own: float | None  # what `sync` says it took ("Sync completed in 307.12s")
    synced: int  # counters fetched, from the database afterwards
    queued: int  # counters whose job is still queued
    reports: int  # report answers the simulator served (200s)
    rejected: dict  # 429s by error_type
    waits: list[str]  # sync's stderr lines: "waiting 2m 31s: …", "not waiting …"

    @property
    def outcome(self) -> str:
        if self.exit_code == 0 and not self.queued:
            return f"exit 0, all {self.synced} synced"
        return f"exit {self.exit_code}, {self.synced} synced, {self.queued} still queued"

    def read_twice(self) -> str:
        extra = self.reports - NEEDED_PER_COUNTER * self.synced
        if extra == 0:
            return f"{self.reports} = {NEEDED_PER_COUNTER} x {self.synced} synced: none read twice"
        return f"{self.reports}: {extra} more than {NEEDED_PER_COUNTER} a synced counter (read again or unused)"


def command_env(tmp: Path, url: str, args) -> dict[str, str]:
    """The scaled budget for the command's client; its own database, data dir, config and
    cache (the host's shared request pace: none of another process's bookings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("METRIKA_", "APP_"))}
    config = tmp / "config.toml"
    config.write_text(f"[api]\nreport_window_seconds = {args.report_window}\n")
    env.update(
        METRIKA_API_URL=url,
        METRIKA_DB=str(tmp / "metrika.db"),
        METRIKA_DATA_DIR=str(tmp / "data"),
        METRIKA_CACHE_DIR=str(tmp / "cache"),
        METRIKA_CONFIG=str(config),
        METRIKA_REPORT_BUDGET=str(args.report_budget),
        NO_COLOR="1",
    )
    return env


async def seed(db: Path, world: World) -> int:
    store = await Store.open(db)
    try:
        return await seed_store(store, world)
    finally:
        await store.close()


async def counted(db: Path) -> tuple[int, int]:
    """(counters fetched, counters still queued), from the database."""
    store = await Store.open(db)
    try:
        rows = await store.counter_rows()
        return sum(r.last_fetched_at is not None for r in rows), sum(r.job_status == "queued" for r in rows)
    finally:
        await store.close()


def one_pass(world: World, args, name: str, max_wait: list[str]) -> Pass:
    """`metrika-tui sync [max_wait]` on a fresh database against a fresh simulator."""
    with tempfile.TemporaryDirectory(prefix="bench-sync-wait-") as tmp, serve(world, args) as (url, sim_stats):
        env = command_env(Path(tmp), url, args)
        total = asyncio.run(seed(Path(env["METRIKA_DB"]), world))
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "metrika_tui", "sync", *max_wait], env=env, capture_output=True, text=True
        )
        wall = time.perf_counter() - started
        if "Traceback" in proc.stderr or proc.returncode not in (0, 1):
            raise RuntimeError(f"{name}: sync exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr}")
        stats = sim_stats()
        synced, queued = asyncio.run(counted(Path(env["METRIKA_DB"])))
        assert synced + queued == total, (synced, queued, total)
        own = re.search(r" in ([\d.]+)s$", proc.stdout.rstrip())
        reports = stats["by_endpoint"].get("data", 0) + stats["by_endpoint"].get("bytime", 0)
        rejected = stats["quota_rejections"]
        return Pass(
            name,
            proc.returncode,
            wall,
            float(own[1]) if own else None,
            synced,
            queued,
            reports - sum(rejected.values()),
            rejected,
            [line.strip() for line in proc.stderr.splitlines()],
        )


def describe(run: Pass) -> str:
    own = f" (sync's own figure {run.own:.1f} s)" if run.own is not None else ""
    rejected = sum(run.rejected.values())
    kinds = f" ({', '.join(f'{k} {v}' for k, v in run.rejected.items())})" if rejected else ""
    waits = "".join(f"\n    stderr: {line}" for line in run.waits)
    return (
        f"{run.outcome}; wall {run.wall:.1f} s{own}\n  report answers served: {run.read_twice()}; "
        f"429s: {rejected}{kinds}{waits}"
    )


def main(args) -> None:
    per_account = args.counters // args.tokens
    total = per_account * args.tokens
    world = World.generate(seed=SEED, accounts=args.tokens, counters_per_account=per_account)
    config = sim_config(args)
    new_bound = pass_max_wait(Settings(report_window_seconds=args.report_window))
    lat = config.latency
    print(f"machine: {machine()}")
    print(
        f"world: {total} counters over {args.tokens} tokens, a first sync ({NEEDED_PER_COUNTER} report requests "
        f"a counter: {NEEDED_PER_COUNTER * per_account} a token); report budget {args.report_budget} per "
        f"{args.report_window} s a token (the simulator and the client); latency lognormal median "
        f"{lat.median_ms:.0f} ms, sigma {lat.sigma} (mean {mean_latency_seconds(lat) * 1000:.0f} ms)"
    )
    previous = args.old_max_wait == MAX_WAIT_FOR_DEFERRED.total_seconds()
    print(
        f"old bound: --max-wait {duration(args.old_max_wait)} ({'the previous behaviour' if previous else 'scaled'}); "
        f"new bound: the default, pass_max_wait = the window + 1 min = {duration(new_bound.total_seconds())}"
    )
    if args.old_max_wait > args.report_window:
        print(f"  (the old bound outlasts the window's {args.report_window} s: it will not bite)")
    print()

    old = one_pass(world, args, "old", ["--max-wait", f"{args.old_max_wait}s"])
    print(f"OLD BOUND (sync --max-wait {duration(args.old_max_wait)}): {describe(old)}\n")
    new = one_pass(world, args, "new", [])
    print(f"NEW BOUND (sync, default --max-wait {duration(new_bound.total_seconds())}): {describe(new)}")
    best, lines = ideal(world, config, NEEDED_PER_COUNTER)
    print("  ideal time = the largest bound the quotas set:")
    print("\n".join(lines))
    print(f"  ideal {best:.1f} s, wall {new.wall:.1f} s -> efficiency {best / new.wall:.2f}\n")

    print(
        f"SUMMARY for {total} counters over {args.tokens} tokens, budget {args.report_budget} per "
        f"{args.report_window} s:"
    )
    for run in (old, new):
        print(
            f"  {run.name} bound  {run.outcome:<34} {run.wall:7.1f} s  reports {run.reports:4d}  "
            f"429s {sum(run.rejected.values())}"
        )
    print(f"  ideal      {'':34} {best:7.1f} s  -> the new bound's efficiency {best / new.wall:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counters", type=int, default=100)
    parser.add_argument("--tokens", type=int, default=4)
    parser.add_argument("--report-budget", type=int, default=20, help="report requests per token per window")
    parser.add_argument("--report-window", type=int, default=150, help="the report budget's window, seconds")
    parser.add_argument(
        "--old-max-wait",
        type=int,
        default=None,
        help="the old bound, seconds (default 120: the previous behaviour; 30 with --quick)",
    )
    parser.add_argument("--quick", action="store_true", help="40 counters, budget 10 per 40 s, old bound 30 s")
    # what quota_efficiency's simulator configuration reads: its latency, from a process of its own
    parser.set_defaults(latency_ms=300.0, sigma=0.7, max_latency_ms=10_000.0, in_thread=False)
    args = parser.parse_args()
    if args.quick:
        args.counters, args.report_budget, args.report_window = 40, 10, 40
    if args.old_max_wait is None:
        args.old_max_wait = 30 if args.quick else int(MAX_WAIT_FOR_DEFERRED.total_seconds())
    if args.counters < args.tokens:
        parser.error("need at least one counter per token")
    main(args)
