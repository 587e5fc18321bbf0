"""Adding an account from the console, on the real engine and the simulator (in-process HTTP)."""

from __future__ import annotations

import httpx
import pytest

from metrika_tui.engine.runtime import Runtime
from metrika_tui.engine.service import Engine
from metrika_tui.metrika import MetrikaClient
from metrika_tui.metrika.oauth import YandexIdClient
from metrika_tui.settings import Settings
from metrika_tui.simulator import OAuthConfig, Simulator, SimulatorConfig, World
from metrika_tui.tokens import Token

from .conftest import make_app, screen_text, toasts, wait_for

OAUTH = OAuthConfig(interval=1.0, code_lifetime=60.0)


async def runtime_on(tmp_path, *, with_app: bool):
    world = World.generate(seed=21, accounts=2, counters_per_account=3)
    sim = Simulator(world, SimulatorConfig(oauth=OAUTH))
    app = {"oauth_client_id": OAUTH.client_id, "oauth_client_secret": Token(OAUTH.client_secret)} if with_app else {}
    settings = Settings(db_path=tmp_path / "m.db", log_file=tmp_path / "sync.log", **app)
    client = MetrikaClient("http://sim", transport=httpx.ASGITransport(app=sim.app))
    yandex_id = YandexIdClient("http://sim", "http://sim", transport=httpx.ASGITransport(app=sim.app))
    engine = await Engine.open(settings, client=client, yandex_id=yandex_id)
    return Runtime(settings, engine=engine, schedule=False, workers=False), world, sim, client


@pytest.fixture
async def real_runtime(tmp_path):
    runtime, world, _sim, client = await runtime_on(tmp_path, with_app=False)
    yield runtime, world
    await client.aclose()


@pytest.fixture
async def login_runtime(tmp_path):
    runtime, world, sim, client = await runtime_on(tmp_path, with_app=True)
    yield runtime, world, sim
    await client.aclose()


async def open_token_dialog(pilot, app) -> None:
    await wait_for(pilot, lambda: "No accounts yet" in screen_text(app), "the welcome")
    await pilot.press("a")
    await wait_for(pilot, lambda: "Add a Yandex Metrika account" in screen_text(app), "the token dialog")


async def test_add_account_with_a_hidden_token(real_runtime):
    runtime, world = real_runtime
    token = world.tokens[0]
    app = make_app(runtime)
    async with app.run_test(size=(120, 35), notifications=True) as pilot:
        await open_token_dialog(pilot, app)
        app.screen.query_one("#add-token").value = token
        await pilot.pause()
        assert token not in screen_text(app)  # the field shows dots, not the secret
        await pilot.press("enter", "enter")
        await wait_for(pilot, lambda: any("added with 3 counter(s)" in n for n in toasts(app)), "the answer")
        await wait_for(pilot, lambda: "PENDING" in screen_text(app), "the discovered counters")
        text = screen_text(app)
        assert all(str(c.id) in text for c in world.counters_of(token))
        assert token not in text and all(token not in n for n in toasts(app))


async def test_a_refused_token_adds_nothing_and_stays_masked(real_runtime):
    runtime, _ = real_runtime
    bad = "y0_this-token-is-not-known-to-metrika-12345"
    app = make_app(runtime)
    async with app.run_test(size=(120, 35), notifications=True) as pilot:
        await open_token_dialog(pilot, app)
        app.screen.query_one("#add-token").value = bad
        await pilot.press("enter", "enter")
        await wait_for(pilot, lambda: any("refused the token" in n for n in toasts(app)), "the refusal")
        assert all(bad not in n for n in toasts(app)) and any("y0_t…2345" in n for n in toasts(app))
        assert "No accounts yet" in screen_text(app)
        assert await runtime.engine.store.account_count() == 0


async def open_login_dialog(pilot, app, sim) -> None:
    await wait_for(pilot, lambda: "No accounts yet" in screen_text(app), "the welcome")
    await pilot.press("a")
    await wait_for(
        pilot,
        lambda: sim.yandex_id.pending() and sim.yandex_id.pending()[-1].user_code in screen_text(app),
        "the code on screen",
    )


@pytest.mark.parametrize("size", [(120, 35), (80, 24)])
async def test_login_with_a_code_shows_it_and_adds_the_account_when_confirmed(login_runtime, size):
    runtime, world, sim = login_runtime
    app = make_app(runtime)
    async with app.run_test(size=size, notifications=True) as pilot:
        await open_login_dialog(pilot, app, sim)
        text = screen_text(app)
        assert "https://ya.ru/device" in text and "left · Esc cancels" in text
        code = sim.yandex_id.pending()[-1]
        await pilot.press("c")  # OSC 52: the URL, never a secret
        assert app.clipboard == "https://ya.ru/device"
        sim.yandex_id.approve(code.user_code, login=world.accounts[1].login)
        await wait_for(pilot, lambda: any("logged in with 3 counter(s)" in n for n in toasts(app)), "the answer")
        await wait_for(pilot, lambda: "PENDING" in screen_text(app), "the discovered counters")
        (account,) = await runtime.engine.store.accounts()
        assert (account.login, account.uid) == (world.accounts[1].login, world.accounts[1].uid)
        shown = screen_text(app) + "".join(toasts(app))
        assert account.token.reveal() not in shown and account.refresh_token.reveal() not in shown
        assert OAUTH.client_secret not in shown and code.device_code not in shown


async def test_esc_cancels_the_login_and_stores_nothing(login_runtime):
    runtime, _world, sim = login_runtime
    app = make_app(runtime)
    async with app.run_test(size=(120, 35)) as pilot:
        await open_login_dialog(pilot, app, sim)
        code = sim.yandex_id.pending()[-1]
        await pilot.press("escape")
        await wait_for(pilot, lambda: "No accounts yet" in screen_text(app), "the main screen back")
        polls = len(code.polls)
        await pilot.pause(1.5)
        assert len(code.polls) == polls  # no one polls a cancelled login
        sim.yandex_id.approve(code.user_code)
        await pilot.pause(1.2)
        assert await runtime.engine.store.account_count() == 0


async def test_a_denied_login_says_so_in_the_dialog(login_runtime):
    runtime, _world, sim = login_runtime
    app = make_app(runtime)
    async with app.run_test(size=(120, 35)) as pilot:
        await open_login_dialog(pilot, app, sim)
        sim.yandex_id.deny()
        await wait_for(pilot, lambda: "denied" in screen_text(app), "the refusal")
        assert await runtime.engine.store.account_count() == 0


async def test_without_an_app_the_dialog_explains_and_offers_the_token(real_runtime):
    runtime, _ = real_runtime
    app = make_app(runtime)
    async with app.run_test(size=(120, 35)) as pilot:
        await open_token_dialog(pilot, app)
        assert app.screen.query_one("#add-token").has_focus
        await pilot.click("#add-tabs Tab#--content-tab-login-pane")
        await wait_for(pilot, lambda: "[oauth] client_id" in screen_text(app), "the explanation")
