"""Adding an account from the console, on the real engine and the simulator (in-process HTTP)."""

from __future__ import annotations

import httpx
import pytest

from metrika_tui.engine.runtime import Runtime
from metrika_tui.engine.service import Engine
from metrika_tui.metrika import MetrikaClient
from metrika_tui.settings import Settings
from metrika_tui.simulator import Simulator, SimulatorConfig, World

from .conftest import make_app, screen_text, wait_for


@pytest.fixture
async def real_runtime(tmp_path):
    world = World.generate(seed=21, accounts=1, counters_per_account=3)
    sim = Simulator(world, SimulatorConfig())
    settings = Settings(db_path=tmp_path / "m.db", log_file=tmp_path / "sync.log")
    client = MetrikaClient("http://sim", transport=httpx.ASGITransport(app=sim.app))
    engine = await Engine.open(settings, client=client)
    runtime = Runtime(settings, engine=engine, schedule=False, workers=False)
    yield runtime, world
    await client.aclose()


async def open_token_dialog(pilot, app) -> None:
    await wait_for(pilot, lambda: "No accounts yet" in screen_text(app), "the welcome")
    await pilot.press("a")
    await wait_for(pilot, lambda: "Add a Yandex Metrika account" in screen_text(app), "the token dialog")


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_add_account_with_a_hidden_token(real_runtime):
    runtime, world = real_runtime
    token = world.tokens[0]
    app = make_app(runtime)
    async with app.run_test(size=(120, 35)) as pilot:
        await open_token_dialog(pilot, app)
        app.screen.query_one("#add-token").value = token
        await pilot.pause()
        assert token not in screen_text(app)  # the field shows dots, not the secret
        await pilot.press("enter", "enter")
        await wait_for(pilot, lambda: any("added with 3 counter(s)" in n for n in notes(app)), "the answer")
        await wait_for(pilot, lambda: "PENDING" in screen_text(app), "the discovered counters")
        text = screen_text(app)
        assert all(str(c.id) in text for c in world.counters_of(token))
        assert token not in text and all(token not in n for n in notes(app))


async def test_a_refused_token_adds_nothing_and_stays_masked(real_runtime):
    runtime, _ = real_runtime
    bad = "y0_this-token-is-not-known-to-metrika-12345"
    app = make_app(runtime)
    async with app.run_test(size=(120, 35)) as pilot:
        await open_token_dialog(pilot, app)
        app.screen.query_one("#add-token").value = bad
        await pilot.press("enter", "enter")
        await wait_for(pilot, lambda: any("refused the token" in n for n in notes(app)), "the refusal")
        assert all(bad not in n for n in notes(app)) and any("y0_t…2345" in n for n in notes(app))
        assert "No accounts yet" in screen_text(app)
        assert await runtime.engine.store.account_count() == 0
