"""Shared helpers of the simulator tests: the frozen moment, auth headers, reference answers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx

from metrika_tui.clock import ManualClock
from metrika_tui.simulator import DEMO_TOKENS, Simulator, SimulatorConfig, World

DATA = Path(__file__).resolve().parents[2] / "data"
#: 15:00 in Moscow on a Tuesday: today is partial, yesterday is final
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
ALPHA, BETA, GAMMA = DEMO_TOKENS


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"OAuth {token}"}


def reference(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def make_sim(world: World, clock: ManualClock, **config) -> Simulator:
    return Simulator(world, SimulatorConfig(clock=clock, **config))


def in_process(sim: Simulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url="http://metrika.test")
