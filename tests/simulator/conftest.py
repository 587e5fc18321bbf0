"""Fixtures: the demo world on a manual clock, served in-process through httpx.ASGITransport."""

from __future__ import annotations

import pytest

from metrika_tui.clock import ManualClock
from metrika_tui.simulator import QuotaConfig, Simulator, World

from .helpers import NOW, in_process, make_sim


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def world() -> World:
    return World.demo()


@pytest.fixture
def sim(world: World, clock: ManualClock) -> Simulator:
    """Real quotas except the per-address one, which most tests would trip at a frozen clock."""
    return make_sim(world, clock, quotas=QuotaConfig(per_ip_per_second=None))


@pytest.fixture
async def client(sim: Simulator):
    async with in_process(sim) as http:
        yield http
