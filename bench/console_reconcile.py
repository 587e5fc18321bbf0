"""Benchmark: the console's counter table with many counters. Prints figures; not a test.

Two tables, in the same run, on the same in-memory engine (the console's fake engine):
- **this console**: `CounterTable`, which draws only the rows on screen;
- **the baseline**: the previous table (bench/datatable_table.py), a Textual DataTable
  reconciled by row key, with its ageing (a full re-read every 10 s).

For each: the app's start to a full table; a burst of state changes reconciled (median of a
few rounds); the burst end to end (events on the bus until the table shows them); idle CPU.

    .venv/bin/python bench/console_reconcile.py [--counters 10000] [--burst 1000] [--idle-seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from datatable_table import DataTableCounters
from tui.fake_engine import demo_world

import metrika_tui.tui.screens.main_screen as main_screen
from metrika_tui.events import Kind
from metrika_tui.tui.app import MetrikaApp
from metrika_tui.tui.theme_styles import state_text
from metrika_tui.tui.widgets.counter_table import CounterTable

PER_ACCOUNT = 100
#: the console's bridge as each table ran with: the baseline re-read everything every 10 s to age
BRIDGES = {"this console": {}, "baseline": {"resync_interval": 10.0}}
TABLES = {"this console": CounterTable, "baseline": DataTableCounters}


@dataclass
class Figures:
    load: float
    reconcile: list[float]
    end_to_end: float
    reads: int
    idle_cpu: float
    idle_seconds: float


def flip(engine, rng: random.Random, burst: int) -> list:
    """Change the state of `burst` counters: queue idle ones, finish queued ones."""
    chosen = rng.sample(list(engine.counters.values()), burst)
    for counter in chosen:
        counter.job = None if counter.job else "queued"
    return chosen


@contextlib.contextmanager
def table_class(cls):
    """Compose the main screen with `cls` as its counter table."""
    saved = main_screen.CounterTable
    main_screen.CounterTable = cls
    try:
        yield
    finally:
        main_screen.CounterTable = saved


async def measure(name: str, counters: int, burst: int, rounds: int, idle_seconds: float) -> Figures:
    runtime = demo_world(accounts=counters // PER_ACCOUNT, per_account=PER_ACCOUNT)
    engine, rng = runtime.engine, random.Random(5)
    with table_class(TABLES[name]):
        app = MetrikaApp(runtime, bridge_options=BRIDGES[name])
        started = time.perf_counter()
        async with app.run_test(size=(160, 45)) as pilot:
            table = app.main_screen.query_one(TABLES[name])
            while table.row_count < counters:
                await pilot.pause(0.02)
            load = time.perf_counter() - started
            await pilot.pause(0.3)

            reconcile = []
            for _ in range(rounds):
                flip(engine, rng, burst)
                snapshot = await engine.snapshot()
                t0 = time.perf_counter()
                stats = table.reconcile(snapshot.counters, snapshot.taken_at)
                await pilot.pause()  # let it draw
                reconcile.append(time.perf_counter() - t0)
                assert not stats.added and not stats.removed

            flipped = flip(engine, rng, burst)
            expected = {c.counter_id: state_text(c.state) for c in (await engine.snapshot()).counters}
            # the last of the burst whose shown state must change (disabled ones stay DISABLED)
            target = next(c.id for c in reversed(flipped) if table.words_of(c.id)[1] != expected[c.id])
            reads = engine.snapshot_calls
            t0 = time.perf_counter()
            for counter in flipped:
                engine.bus.emit(Kind.QUEUED, "queued", counter_id=counter.id)
            while table.words_of(target)[1] != expected[target]:
                await pilot.pause(0.005)
            end_to_end, reads = time.perf_counter() - t0, engine.snapshot_calls - reads

            bridge = app.main_screen.bridge
            while bridge._dirty or bridge._fetching:  # events that came during the last read
                await pilot.pause(0.1)
            await pilot.pause(1.0)
            process = psutil.Process()
            cpu0, t0 = process.cpu_times(), time.perf_counter()
            await asyncio.sleep(idle_seconds)
            cpu1, wall = process.cpu_times(), time.perf_counter() - t0
            used = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return Figures(load, reconcile, end_to_end, reads, 100 * used / wall, wall)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


async def compare(
    counters: int, burst: int, rounds: int, idle_seconds: float, baseline_rounds: int | None = None
) -> dict[str, Figures]:
    """Both tables at one size; prints a small table with the ratios."""
    ours = await measure("this console", counters, burst, rounds, idle_seconds)
    base = await measure("baseline", counters, burst, baseline_rounds or rounds, idle_seconds)
    med_o, med_b = statistics.median(ours.reconcile), statistics.median(base.reconcile)
    print(
        f"{counters:,} counters, bursts of {burst:,} state changes "
        f"({len(ours.reconcile)} / {len(base.reconcile)} rounds), idle over {ours.idle_seconds:.0f} s:"
    )
    print(f"  {'':34} {'this console':>14} {'baseline':>14}   ratio")
    for label, a, b in (
        ("start to a full table", ours.load, base.load),
        ("burst reconciled (median)", med_o, med_b),
        ("burst end to end (events to screen)", ours.end_to_end, base.end_to_end),
    ):
        print(f"  {label:34} {ms(a):>14} {ms(b):>14}   {b / a:.1f}x faster")
    print(f"  {'snapshot reads for the burst':34} {ours.reads:>14} {base.reads:>14}")
    print(
        f"  {'idle CPU, % of one core':34} {ours.idle_cpu:>13.2f}% {base.idle_cpu:>13.2f}%   "
        f"{base.idle_cpu / max(ours.idle_cpu, 0.01):.1f}x less"
    )
    return {"this console": ours, "baseline": base}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counters", type=int, default=10_000)
    parser.add_argument("--burst", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    args = parser.parse_args()
    asyncio.run(compare(args.counters, args.burst, args.rounds, args.idle_seconds))


if __name__ == "__main__":
    main()
