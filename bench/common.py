"""Helpers the benchmarks share: seeding a store from a simulated world, the machine's
description, and the expected latency of a simulator configuration."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import multiprocessing
import os
import platform
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]


async def seed_store(store, world, *, now: dt.datetime | None = None) -> int:
    """Every account and counter of `world`, written straight into the store (no API call,
    so no quota is spent and discovery is not part of what is timed). Returns the counters."""
    from metrika_tui.tokens import Token

    now = now or dt.datetime.now(dt.UTC)
    total = 0
    for account in world.accounts:
        row = await store.add_account(user_id=account.login, login=account.login, token=Token(account.token), now=now)
        found, _ = await store.upsert_counters(row.id, world.counters_of(account.token), now=now)
        total += found
    return total


def machine() -> str:
    """One line: CPU, cores, memory, Python, and the load when the run started."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    mem = psutil.virtual_memory().total / 2**30
    return f"{cpu}; {psutil.cpu_count()} cores; {mem:.1f} GiB; Python {sys.version.split()[0]}; load average {load}"


def mean_latency_seconds(latency) -> float:
    """The mean of the simulator's latency (a LatencyConfig), its cap included.

    Lognormal with median m and shape s, capped at M: E[min(X, M)] =
    m*e^(s^2/2)*Phi((ln(M/m) - s^2)/s) + M*(1 - Phi(ln(M/m)/s)).
    """
    if latency.median_ms <= 0:
        return 0.0
    if latency.kind == "fixed" or latency.sigma == 0:
        return min(latency.median_ms, latency.max_ms) / 1000

    def phi(x: float) -> float:
        return 0.5 * (1 + math.erf(x / math.sqrt(2)))

    m, s, cap = latency.median_ms, latency.sigma, latency.max_ms
    z = math.log(cap / m)
    below = m * math.exp(s * s / 2) * phi((z - s * s) / s)
    return (below + cap * (1 - phi(z / s))) / 1000


def latency_quantile_seconds(latency, q: float) -> float:
    """The q-quantile of the simulator's latency (lognormal: m * e^(s * z_q)), capped."""
    from statistics import NormalDist

    if latency.kind == "fixed":
        return min(latency.median_ms, latency.max_ms) / 1000
    return min(latency.median_ms * math.exp(latency.sigma * NormalDist().inv_cdf(q)), latency.max_ms) / 1000


#: the simulator's event loop is sampled this often for lag (`simulator(..., lag=True)`)
LAG_SAMPLE = 0.01
#: lag past this is more than the client's pacing margin (`metrika.client.RATE_MARGIN`): arrivals
#: stamped that late can crowd 31 requests into the simulator's second
LAG_MARGIN = 0.08


def _serve(seed: int, accounts: int, per_account: int, config, port: int, lag=None) -> None:
    from metrika_tui.simulator import Simulator, World, run_forever

    world = World.generate(seed=seed, accounts=accounts, counters_per_account=per_account)
    if lag is None:
        run_forever("127.0.0.1", port, world, config)
        return
    import asyncio

    async def serve_and_sample() -> None:
        loop = asyncio.get_running_loop()
        async with Simulator(world, config).serve("127.0.0.1", port):
            while True:
                before = loop.time()
                await asyncio.sleep(LAG_SAMPLE)
                late = loop.time() - before - LAG_SAMPLE
                lag[0] = max(lag[0], late)
                lag[1] += late > LAG_MARGIN

    asyncio.run(serve_and_sample())


@contextlib.contextmanager
def simulator(
    seed: int, accounts: int, per_account: int, config, *, in_thread: bool = False, lag: bool = False
) -> Iterator[tuple[str, Callable[[], dict]]]:
    """Serve `World.generate(seed, accounts, per_account)` on loopback; yields (base URL, stats).

    By default in a process of its own, like the real API: in a thread of the benchmark, the
    simulator's work would share the engine's interpreter lock, and its arrival times would
    trail the engine's sends by the engine's own pauses. `stats()` is the simulator's snapshot;
    with `lag`, plus how far its event loop fell behind (`loop_lag_max_ms`, and
    `loop_lags_over_margin`: the samples later than LAG_MARGIN, when arrivals are stamped late).
    """
    if in_thread:
        from metrika_tui.simulator import Simulator, World

        sim = Simulator(World.generate(seed=seed, accounts=accounts, counters_per_account=per_account), config)
        with sim.serve_in_thread() as url:
            yield url, sim.stats.snapshot
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spawn = multiprocessing.get_context("spawn")
    shared_lag = spawn.Array("d", 2, lock=False) if lag else None
    child = spawn.Process(
        target=_serve, args=(seed, accounts, per_account, config, port, shared_lag), name="bench-simulator", daemon=True
    )
    child.start()
    url = f"http://127.0.0.1:{port}"

    def stats() -> dict:
        snapshot = httpx.get(f"{url}/simulator/stats", timeout=30).json()
        if shared_lag is not None:
            snapshot |= {"loop_lag_max_ms": round(shared_lag[0] * 1000, 1), "loop_lags_over_margin": int(shared_lag[1])}
        return snapshot

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                stats()
                break
            except httpx.TransportError:
                if not child.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("the simulator process did not start") from None
                time.sleep(0.05)
        yield url, stats
    finally:
        child.terminate()
        child.join(10)
