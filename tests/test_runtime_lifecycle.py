"""Runtime start and stop: a start cut short (quit during start-up) leaves nothing open.

An aiosqlite connection that is never closed keeps a non-daemon thread alive, and the process
then hangs at exit: the console "quit" but never returned to the shell.
"""

from __future__ import annotations

import asyncio
import threading

from metrika_tui.demo import seed_demo
from metrika_tui.engine.runtime import Runtime
from metrika_tui.settings import Settings
from metrika_tui.simulator import Simulator, SimulatorConfig, World
from metrika_tui.simulator.config import LatencyConfig


def database_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "_connection_worker_thread" in t.name and t.is_alive()]


async def test_cancelled_start_up_closes_the_database(tmp_path):
    slow = SimulatorConfig(latency=LatencyConfig(kind="fixed", median_ms=400.0))
    simulator = Simulator(World.demo(), slow)
    with simulator.serve_in_thread() as url:
        settings = Settings(db_path=tmp_path / "m.db", log_file=tmp_path / "sync.log", api_url=url, demo=True)
        runtime = Runtime(settings, prepare=seed_demo)
        before = len(database_threads())
        start = asyncio.create_task(runtime.start())
        while simulator.stats.snapshot()["requests"] == 0:  # seeding the demo accounts has begun
            await asyncio.sleep(0.02)
        start.cancel()
        await asyncio.gather(start, return_exceptions=True)
        await asyncio.sleep(0.1)
        assert len(database_threads()) == before
        await runtime.stop()  # a later stop (the app's unmount) is harmless
