"""Benchmark: several metrika-tui processes on one host against one API address. Prints figures; not a test.

N processes (default 4: three daemons and a cron `sync`), each a real MetrikaClient with its
own accounts and 30 workers reading what a first sync reads (each counter's daily report over
90 days, then its monthly users), all started at the same moment against one simulator (a
process of its own on loopback, Metrika's real quotas, lognormal latency median 300 ms).

Twice in the same run, each on a fresh simulator: with the host-wide pace (the default: every
process books its slots in one file) and with each process pacing itself (`share_pace=False`,
what every release before did). Figures from the simulator: requests answered, 429s by address,
the busiest second; and the answered requests a second over the whole run.

    .venv/bin/python bench/multi_process.py [--processes 4] [--tokens 4] [--counters 25]
        [--workers 30] [--latency-ms 300] [--sigma 0.7]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, simulator

from metrika_tui.metrika import MetrikaClient
from metrika_tui.metrika.errors import MetrikaError
from metrika_tui.models import ReportRequest
from metrika_tui.simulator import LatencyConfig, SimulatorConfig, World
from metrika_tui.tokens import Token

SEED = 2027
BY_ADDRESS = "quota_requests_by_ip"


def world_of(args) -> World:
    return World.generate(seed=SEED, accounts=args.processes * args.tokens, counters_per_account=args.counters)


def one_process(index: int, url: str, args, shared: bool, pace_file: str, go, results) -> None:
    """A process of the host: its own accounts, its own client, `args.workers` jobs at a time."""
    asyncio.run(_one_process(index, url, args, shared, pace_file, go, results))


async def _one_process(index: int, url: str, args, shared: bool, pace_file: str, go, results) -> None:
    accounts = world_of(args).accounts[index * args.tokens : (index + 1) * args.tokens]
    todo = iter(
        [
            (Token(a.token), cid)
            for cid_index in range(args.counters)
            for a in accounts
            for cid in [a.counter_ids[cid_index]]
        ]
    )
    date2 = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    date1 = date2 - dt.timedelta(days=89)
    deferred: Counter[str] = Counter()  # jobs deferred, by the error's type
    async with MetrikaClient(url, share_pace=shared, pace_file=Path(pace_file)) as client:
        go.wait()  # every process starts at once
        first = time.monotonic()

        async def work() -> None:
            for token, counter_id in todo:
                while True:
                    try:
                        await client.read_window(token, counter_id, [ReportRequest(date1, date2)])
                        await client.read_window(token, counter_id, [ReportRequest(date1, date2, grain="month")])
                        break
                    except MetrikaError as error:  # a 429 past the client's retries: the engine defers
                        deferred[error.error_type or type(error).__name__] += 1  # the job 2.5-5 s and reads
                        # both reports again (engine/job.py)
                        await asyncio.sleep(random.uniform(2.5, 5.0))

        await asyncio.gather(*(work() for _ in range(args.workers)))
        pacer = getattr(client._pacer, "counts", None)
        results.put(
            {
                "first": first,
                "last": time.monotonic(),
                "retries": client.stats().retries,
                "deferred": deferred,
                "pacer": pacer,
            }
        )


def run(args, *, shared: bool) -> dict:
    """N processes on a fresh simulator; the simulator's figures and the processes' own."""
    latency = LatencyConfig(kind="lognormal", median_ms=args.latency_ms, sigma=args.sigma)
    config = SimulatorConfig(latency=latency, seed=SEED)
    spawn = multiprocessing.get_context("spawn")
    with (
        tempfile.TemporaryDirectory(prefix="bench-pace-") as tmp,
        simulator(SEED, args.processes * args.tokens, args.counters, config) as (url, sim_stats),
    ):
        go, results = spawn.Event(), spawn.Queue()
        pace_file = str(Path(tmp) / "pace")
        children = [
            spawn.Process(target=one_process, args=(i, url, args, shared, pace_file, go, results))
            for i in range(args.processes)
        ]
        for child in children:
            child.start()
        time.sleep(1.0)
        go.set()
        each = [results.get(timeout=600) for _ in children]
        for child in children:
            child.join(30)
        stats = sim_stats()
    seconds = max(r["last"] for r in each) - min(r["first"] for r in each)
    return {
        "seconds": seconds,
        "ok": stats["ok"],
        "requests": stats["requests"],
        "by_address": stats["quota_rejections"].get(BY_ADDRESS, 0),
        "rejections": stats["quota_rejections"],
        "peak": stats["peak_requests_per_second"],
        "retries": sum(r["retries"] for r in each),
        "deferred": sum((Counter(r["deferred"]) for r in each), Counter()),
        "pacers": [r["pacer"] for r in each],
    }


def describe(name: str, r: dict) -> str:
    deferred = r["deferred"]
    why = f" {dict(deferred)}" if deferred else ""
    line = (
        f"{name:<28} {r['seconds']:7.1f} s  {r['ok'] / r['seconds']:5.1f} requests/s answered  "
        f"429 by address {r['by_address']:5d}  sent {r['requests']:5d} for {r['ok']} answers  "
        f"busiest second {r['peak']:3d}  client retries {r['retries']}  "
        f"jobs deferred {deferred.total()}{why}"
    )
    other = {k: v for k, v in r["rejections"].items() if k != BY_ADDRESS}
    return line + (f"  other 429s {other}" if other else "")


def main(args) -> None:
    needed = args.processes * args.tokens * args.counters * 2
    print(f"machine: {machine()}")
    print(
        f"{args.processes} processes x {args.tokens} tokens x {args.counters} counters, 2 reports a counter: "
        f"{needed} requests; {args.workers} workers a process; latency lognormal median {args.latency_ms:g} ms, "
        f"sigma {args.sigma}; the address allows 30 requests/s: at least {needed / 30:.1f} s\n"
    )
    shared = run(args, shared=True)
    alone = run(args, shared=False)
    print(describe("host-wide pace (shared)", shared))
    print(describe("each process alone (before)", alone))
    counts = [p for p in shared["pacers"] if p]
    if counts:
        fast, waited = sum(p["fast"] for p in counts), sum(p["waited"] for p in counts)
        mean = sum(p["fast_seconds"] for p in counts) / max(1, fast)
        print(
            f"\nthe pace file's lock: {fast + waited} bookings and sends written; {fast} on the event loop "
            f"(mean {mean * 1e6:.0f} us, slowest {max(p['fast_max'] for p in counts) * 1e6:.0f} us), {waited} found it "
            f"held and waited in a thread (slowest {max(p['waited_max'] for p in counts) * 1e3:.1f} ms)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=4, help="accounts of each process")
    parser.add_argument("--counters", type=int, default=25, help="counters of each account")
    parser.add_argument("--workers", type=int, default=30, help="jobs at once in each process (the default setting)")
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--sigma", type=float, default=0.7)
    main(parser.parse_args())
