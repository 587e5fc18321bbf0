"""Opening the engine for a command: the demo simulator if asked, the store, the client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from metrika_tui.demo import seed_demo
from metrika_tui.settings import Settings

if TYPE_CHECKING:
    from metrika_tui.engine.contract import CommandEngine
    from metrika_tui.engine.service import Engine


@contextlib.asynccontextmanager
async def open_engine(settings: Settings) -> AsyncIterator[Engine]:
    """An open Engine for one command; closed (workers stopped, leases given back) on exit.

    The caller runs inside `demo_simulator(settings)` already when --demo is on.
    """
    from metrika_tui.engine.service import Engine

    engine = await Engine.open(settings)
    try:
        await seed_demo(engine)
        yield engine
    finally:
        await engine.close()


def run_with_engine(settings: Settings, body: Callable[[CommandEngine], Awaitable[int]]) -> int:
    """Run `await body(engine)` in a fresh event loop, with the demo simulator when asked."""
    import asyncio

    from metrika_tui.demo import demo_simulator

    async def _main(resolved: Settings) -> int:
        async with open_engine(resolved) as engine:
            return await body(engine)

    with demo_simulator(settings) as resolved:
        return asyncio.run(_main(resolved))
