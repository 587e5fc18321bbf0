"""Benchmark: the console's table with 10,000 counters. Prints figures; not a test.

- reconcile: a burst of 1,000 state changes applied by key (changed cells only), against a
  baseline measured in the same run: clearing the table and adding every row again;
- end to end: 1,000 engine events published at once until the table shows them (bridge
  coalescing, one snapshot, one reconcile);
- idle CPU of the running console (headless Pilot driver, default timers) over a few seconds.

    .venv/bin/python bench/console_reconcile.py [--counters 10000] [--burst 1000] [--idle-seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from tui.fake_engine import demo_world  # noqa: E402  (the console's in-memory engine)

from metrika_tui.engine.events import Kind  # noqa: E402
from metrika_tui.tui.app import MetrikaApp  # noqa: E402
from metrika_tui.tui.counter_rows import row_cells, row_words  # noqa: E402
from metrika_tui.tui.widgets.counter_table import CounterTable  # noqa: E402

ROUNDS = 5


def flip(engine, rng: random.Random, burst: int) -> None:
    """Change the state of `burst` counters: queue idle ones, finish queued ones."""
    for counter in rng.sample(list(engine.counters.values()), burst):
        counter.job = None if counter.job else "queued"


async def load(app: MetrikaApp, pilot, counters: int) -> tuple[CounterTable, float]:
    """Wait until the table shows every counter; the table and the seconds it took."""
    table = app.main_screen.query_one(CounterTable)
    started = time.perf_counter()
    while table.row_count < counters:
        await pilot.pause(0.05)
    return table, time.perf_counter() - started


async def reconcile_rounds(engine, table: CounterTable, pilot, rng: random.Random, burst: int, rounds: int = ROUNDS,
                           rebuild_rounds: int | None = None) -> tuple[list[float], list[float]]:  # fmt: skip
    """Seconds per round: `burst` state changes reconciled by key, and (the baseline, in the
    first `rebuild_rounds` rounds) the same snapshot by clearing the table and adding every row."""
    reconcile, rebuild = [], []
    for round_ in range(rounds):
        flip(engine, rng, burst)
        snapshot = await engine.snapshot()
        t0 = time.perf_counter()
        stats = table.reconcile(snapshot.counters, snapshot.taken_at)
        await pilot.pause()  # let it draw
        reconcile.append(time.perf_counter() - t0)
        assert stats.cells_updated and not stats.added and not stats.removed  # disabled rows stay DISABLED
        if rebuild_rounds is not None and round_ >= rebuild_rounds:
            continue

        # the baseline: what a naive refresh does with the same snapshot
        styles = table.styles_for_cells
        t0 = time.perf_counter()
        table.clear()
        for c in snapshot.counters:
            table.add_row(*row_cells(row_words(c, snapshot.taken_at), c.state, styles), key=str(c.counter_id))
        await pilot.pause()
        rebuild.append(time.perf_counter() - t0)
        # put the table back in the reconciler's hands
        table.clear()
        table._shown.clear(), table._order.clear()
        table.reconcile(snapshot.counters, snapshot.taken_at)
        await pilot.pause()
    return reconcile, rebuild


async def main(counters: int, burst: int, idle_seconds: float) -> None:
    per_account = 100
    runtime = demo_world(accounts=counters // per_account, per_account=per_account)
    engine = runtime.engine
    rng = random.Random(5)
    app = MetrikaApp(runtime)
    async with app.run_test(size=(160, 45)) as pilot:
        table, first_load = await load(app, pilot, counters)
        print(f"counters: {counters}; first load (snapshot + {counters} rows): {first_load:.2f} s")
        await pilot.pause(0.3)

        reconcile, rebuild = await reconcile_rounds(engine, table, pilot, rng, burst)
        med_r, med_b = statistics.median(reconcile), statistics.median(rebuild)
        print(f"burst of {burst} state changes, reconciled by key: median {med_r * 1000:.0f} ms "
              f"(min {min(reconcile) * 1000:.0f}, max {max(reconcile) * 1000:.0f}) over {ROUNDS} rounds")
        print(f"baseline, clear and rebuild all {counters} rows:  median {med_b * 1000:.0f} ms "
              f"(min {min(rebuild) * 1000:.0f}, max {max(rebuild) * 1000:.0f})  -> {med_b / med_r:.1f}x slower")

        # end to end: 1,000 events on the bus until the table shows the new states
        before = engine.snapshot_calls
        flipped = rng.sample(list(engine.counters.values()), burst)
        t0 = time.perf_counter()
        for counter in flipped:
            counter.job = None if counter.job else "queued"
            engine.bus.emit(Kind.QUEUED, "queued", counter_id=counter.id)
        last = flipped[-1]
        want = "◷ QUEUED" if last.job else None
        while want and table.words_of(last.id)[1] != want:
            await pilot.pause(0.005)
        print(f"end to end, {burst} events -> table shows them: {(time.perf_counter() - t0) * 1000:.0f} ms, "
              f"{engine.snapshot_calls - before} snapshot read(s)")

        await pilot.pause(1.0)
        process = psutil.Process()
        cpu0, t0 = process.cpu_times(), time.perf_counter()
        await asyncio.sleep(idle_seconds)
        cpu1, wall = process.cpu_times(), time.perf_counter() - t0
        used = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
        print(f"idle CPU over {wall:.0f} s with {counters} rows: {100 * used / wall:.1f}% of one core")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counters", type=int, default=10_000)
    parser.add_argument("--burst", type=int, default=1_000)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(main(args.counters, args.burst, args.idle_seconds))
