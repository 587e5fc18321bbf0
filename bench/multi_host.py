"""Benchmark: 1, 2 and 3 hosts working one queue, where Metrika's per-address rate binds. Prints
figures; not a test.

A world of many logins (default 300 x 20 counters: a login's 3 in flight and its budgets are
far from binding, the 30 requests a second of an address is what limits a host), seeded into
a fresh store per run, served by the simulator (a process of its own on loopback, Metrika's
real quotas, lognormal latency median 300 ms). Each host is a real `metrika-tui --headless`
daemon sending from a loopback address of its own (`[api] source_address` 127.0.0.2, .3, .4:
another client address to the simulator's per-address quota, a pace file of its own); the
first one's start-up pass queues every counter (a first sync: the daily report and the month's
users, 2 requests), all of them work the queue until it is empty.

The hosts share one PostgreSQL database (a throwaway server, tests/pg_server.py, when this
machine has the binaries: what several machines would share), and one host also runs on a
SQLite file, for the cost of the network store; without PostgreSQL (or `--sqlite`) every run
is on SQLite.

Figures per run, from the store and the simulator: the pass's time (first claim to last
result), counter syncs a second, requests a second per address, 429s, breaches of the real
limits (the simulator's watch); and the speed-up of N hosts against one host, measured in the
same run (target: 3 hosts >= 2.7x, no 429).

    .venv/bin/python bench/multi_host.py [--logins 300] [--counters 20] [--hosts 3] [--runs 3]
        [--workers 30] [--latency-ms 300] [--sigma 0.5] [--sqlite] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LAG_MARGIN, ROOT, machine, seed_store, simulator

from metrika_tui.simulator import LatencyConfig, SimulatorConfig, World
from metrika_tui.store import Store

SEED = 2028
#: a first sync reads 90 days moved back to the 1st of the month: a daily report and the users
NEEDED_PER_COUNTER = 2
RATE = 30  # requests a second per address (Metrika's, and the client's default pace)


@dataclass
class Run:
    name: str
    hosts: int
    counters: int
    seconds: float  # the pass: first claim to last result
    wall: float  # from the daemons' start to an empty queue (their start-up included)
    by_address: dict[str, int]
    answered: int
    rejected: dict[str, int]
    breaches: dict[str, int]
    peak: int
    violations: list[dict[str, object]]  # the first breaches, one by one
    lag_ms: float  # the simulator's event loop: its longest lag
    lags: int  # its samples later than the client's pacing margin

    @property
    def syncs_per_second(self) -> float:
        return self.counters / self.seconds


def addresses(n: int) -> list[str]:
    return [f"127.0.0.{2 + i}" for i in range(n)]


def host_env(base: dict[str, str], address: str, folder: Path) -> dict[str, str]:
    return base | {"METRIKA_SOURCE_ADDRESS": address, "METRIKA_LOG_FILE": str(folder / f"sync-{address}.log")}


async def pass_window(location: str) -> tuple[int, float]:
    """(counters done, seconds from the first claim to the last result) of the store's pass."""
    store = await Store.open(location)
    try:
        rows = await store.counter_rows()
        jobs = [j for r in rows for j in await store.job_history(r.id, 5) if j.status == "done"]
    finally:
        await store.close()
    first = min(j.started_at for j in jobs if j.started_at)
    last = max(j.finished_at for j in jobs if j.finished_at)
    return len(jobs), (last - first).total_seconds()


async def queue_is_empty(location: str) -> bool:
    store = await Store.open(location)
    try:
        return not any((await store.live_job_counts(dt.datetime.now(dt.UTC))).values())
    finally:
        await store.close()


async def seed(location: str, world: World) -> int:
    store = await Store.open(location)
    try:
        return await seed_store(store, world)
    finally:
        await store.close()


def run(name: str, hosts: int, world: World, args, folder: Path, location: str) -> Run:
    """Seed the store at `location`, start `hosts` daemons on one simulator, wait for the pass."""
    total = asyncio.run(seed(location, world))
    latency = LatencyConfig(kind="lognormal", median_ms=args.latency_ms, sigma=args.sigma, max_ms=5_000.0)
    config = SimulatorConfig(latency=latency, seed=SEED)
    with simulator(SEED, args.logins, args.counters, config, lag=True) as (url, sim_stats):
        base = {k: v for k, v in os.environ.items() if not k.startswith(("METRIKA_", "APP_"))} | {
            "METRIKA_API_URL": url,
            "METRIKA_DB": location,
            "METRIKA_DATA_DIR": str(folder / "data"),
            "METRIKA_CONFIG": str(folder / "none.toml"),
            "METRIKA_CACHE_DIR": str(folder / "cache"),  # the pace files, one per address
            "METRIKA_WORKERS": str(args.workers),
            "METRIKA_SYNC_INTERVAL_MINUTES": "1440",
        }
        started = time.perf_counter()
        daemons = []
        for address in addresses(hosts):
            out = (folder / f"{name}-{address}.out").open("w")
            daemons.append(
                subprocess.Popen(
                    [sys.executable, "-m", "metrika_tui", "--headless"],
                    env=host_env(base, address, folder),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
            out.close()
        try:
            time.sleep(2.0)  # the first start-up pass queues every counter
            while not asyncio.run(queue_is_empty(location)):
                if any(d.poll() is not None for d in daemons):
                    raise RuntimeError(f"{name}: a daemon exited early (see {folder})")
                time.sleep(0.5)
            wall = time.perf_counter() - started
        finally:
            for d in daemons:
                d.send_signal(signal.SIGTERM)
            for d in daemons:
                d.wait(60)
        stats = sim_stats()
    done, seconds = asyncio.run(pass_window(location))
    if done != total:
        raise RuntimeError(f"{name}: {done} of {total} counters synced")
    return Run(
        name,
        hosts,
        total,
        seconds,
        wall,
        stats["by_address"],
        stats["ok"],
        stats["quota_rejections"],
        stats["breaches"],
        stats["peak_requests_per_second"],
        stats["violations"],
        stats["loop_lag_max_ms"],
        stats["loop_lags_over_margin"],
    )


def describe(r: Run, baseline: Run) -> str:
    per_address = ", ".join(f"{a} {n / r.seconds:4.1f}" for a, n in sorted(r.by_address.items()))
    return (
        f"{r.name:<18} {r.seconds:7.1f} s (wall {r.wall:6.1f} s)  {r.syncs_per_second:6.2f} counter syncs/s  "
        f"{r.answered / r.seconds:5.1f} requests/s answered; per address: {per_address}  "
        f"busiest second {r.peak:3d}  429s {sum(r.rejected.values())}{f' {r.rejected}' if r.rejected else ''}  "
        f"breaches {sum(r.breaches.values())}  speed-up vs 1 host {r.syncs_per_second / baseline.syncs_per_second:.2f}x"
        f"\n{'':<18} the simulator's event loop lagged up to {r.lag_ms:.0f} ms, {r.lags} times past the client's"
        f" {LAG_MARGIN * 1000:.0f} ms pacing margin" + "".join(f"\n{'':<18} breach: {v}" for v in r.violations[:5])
    )


def main(args) -> None:
    world = World.generate(seed=SEED, accounts=args.logins, counters_per_account=args.counters)
    total = args.logins * args.counters
    needed = total * NEEDED_PER_COUNTER
    print(f"machine: {machine()}")
    print(
        f"world: {args.logins} logins x {args.counters} counters = {total} counters, {NEEDED_PER_COUNTER} requests"
        f" each ({needed}); latency lognormal median {args.latency_ms:g} ms, sigma {args.sigma}; Metrika's quotas;"
        f" {args.workers} workers a host; one host may send {RATE} requests/s: at least {needed / RATE:.0f} s alone,"
        f" {needed / RATE / args.hosts:.0f} s on {args.hosts} hosts\n"
    )
    runs: list[Run] = []
    counts = sorted({1, *(int(n) for n in args.runs.split(",") if n.strip())}) if args.runs else None
    with tempfile.TemporaryDirectory(prefix="bench-hosts-") as tmp, postgres(args) as server:
        backend = "PostgreSQL" if server is not None else "SQLite"
        print(f"the hosts' store: {backend}{'' if server else ' (no PostgreSQL here, or --sqlite)'}\n", flush=True)

        def one(n: int, kind: str) -> Run:
            folder = Path(tmp) / f"{kind}-{n}"
            folder.mkdir()
            where = server.database(empty=True) if kind == "PostgreSQL" and server else None
            location = where.url if where and where.url else str(folder / "metrika.db")
            name = f"{n} host{'s' * (n > 1)} ({kind})"
            return run(name, n, world, args, folder, location)

        for n in counts or range(1, args.hosts + 1):
            runs.append(one(n, backend))
            print(describe(runs[-1], runs[0]), flush=True)
        if server is not None:
            alone = one(1, "SQLite")
            print(describe(alone, runs[0]), flush=True)
    last = runs[-1]
    speedup = last.syncs_per_second / runs[0].syncs_per_second
    every = runs + ([alone] if server is not None else [])
    rejected = sum(sum(r.rejected.values()) for r in every)
    print(
        f"\n{last.hosts} hosts against 1 ({backend}): {speedup:.2f}x (target >= {0.9 * last.hosts:.1f}x), 429s in"
        f" all runs: {rejected} (target 0), breaches of the real limits: {sum(sum(r.breaches.values()) for r in every)}"
    )
    if server is not None:
        print(
            f"1 host on PostgreSQL against 1 on SQLite: {runs[0].seconds:.1f} s / {alone.seconds:.1f} s ="
            f" {runs[0].seconds / alone.seconds:.3f} (the network store's cost where the address binds)"
        )


@contextlib.contextmanager
def postgres(args):  # -> Iterator[PgServer | None]
    """A throwaway PostgreSQL server (tests/pg_server.py), or None: without binaries, or --sqlite."""
    if args.sqlite:
        yield None
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from pg_server import PgUnavailable
    from pg_server import pg_server as serving

    try:
        with serving() as server:
            yield server
    except PgUnavailable:
        yield None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=300)
    parser.add_argument("--counters", type=int, default=20, help="counters of each login")
    parser.add_argument("--hosts", type=int, default=3, help="the most hosts (each run adds one)")
    parser.add_argument("--workers", type=int, default=30, help="jobs at once in each host (the default setting)")
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--sigma", type=float, default=0.5)
    parser.add_argument("--quick", action="store_true", help="60 logins x 10 counters (~2 min)")
    parser.add_argument(
        "--runs", default="", help="host counts to run besides one host, e.g. 3 (default: every count up to --hosts)"
    )
    parser.add_argument("--sqlite", action="store_true", help="every run on SQLite, even where PostgreSQL is")
    args = parser.parse_args()
    if args.quick:
        args.logins, args.counters = 60, 10
    main(args)
