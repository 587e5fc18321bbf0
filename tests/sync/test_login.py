"""The device-code login and the token lifecycle, on the real engine against the simulated
Yandex ID, on one manual clock: waits take no time, and every poll's moment is recorded."""

from __future__ import annotations

import datetime as dt

import pytest

from metrika_tui.engine.login import DeviceLogin
from metrika_tui.engine.token_care import LOGIN_COMMAND, TokenCare
from metrika_tui.metrika.oauth import LoginRefused
from metrika_tui.simulator import OAuthConfig, World
from metrika_tui.tokens import Token

from .helpers import add_accounts, rig

APP = {"oauth_client_id": OAuthConfig().client_id, "oauth_client_secret": Token(OAuthConfig().client_secret)}
DAY = 86400.0


def world() -> World:
    return World.generate(seed=61, accounts=2, counters_per_account=2)


class ClockSleep:
    """asyncio.sleep for the login loop: moves the shared clock instead of waiting."""

    def __init__(self, r, on_sleep=None) -> None:
        self.r, self.on_sleep, self.slept = r, on_sleep, []

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.r.clock.advance(seconds)
        if self.on_sleep:
            self.on_sleep(len(self.slept))


def gaps(login) -> list[float]:
    return [(b - a).total_seconds() for a, b in zip(login.polls, login.polls[1:])]


async def test_an_approved_login_stores_the_account_with_its_identity_and_counters(tmp_path):
    w = world()
    async with rig(tmp_path, w) as r:
        engine = await r.engine(**APP)
        sim = r.sim.yandex_id
        sleep = ClockSleep(r, lambda n: n == 3 and sim.approve(login=w.accounts[1].login))
        login = await DeviceLogin.start(engine, sleep=sleep)
        assert login.prompt.verification_url == "https://ya.ru/device" and len(login.prompt.user_code) == 8
        account, found = await login.finish(await login.wait())

        pending = sim.logins[login.code.device_code.reveal()]
        assert pending.state == "used" and len(pending.polls) == 3  # two pending answers, then the token
        assert min(gaps(pending)) >= OAuthConfig().interval and pending.slow_downs == 0  # never sooner
        assert (account.login, account.uid) == (w.accounts[1].login, w.accounts[1].uid)
        assert found == 2 and account.refresh_token is not None
        assert account.token_expires_at == r.clock.now() + dt.timedelta(seconds=OAuthConfig().token_lifetime)
        counters = await engine.store.counter_rows()
        assert sorted(c.id for c in counters) == list(w.accounts[1].counter_ids)
        await engine.plan()  # the new token reads Metrika at once
        assert all(o.ok for o in await engine.run_until_idle())


async def test_a_denied_login_stores_nothing(tmp_path):
    async with rig(tmp_path, world()) as r:
        engine = await r.engine(**APP)
        login = await DeviceLogin.start(engine, sleep=ClockSleep(r, lambda n: n == 2 and r.sim.yandex_id.deny()))
        with pytest.raises(LoginRefused) as refused:
            await login.wait()
        assert refused.value.reason == "denied" and login.polls == 2
        assert await engine.store.account_count() == 0


async def test_an_expired_code_ends_the_login(tmp_path):
    async with rig(tmp_path, world()) as r:
        engine = await r.engine(**APP)
        login = await DeviceLogin.start(engine, sleep=ClockSleep(r, lambda n: n == 1 and r.sim.yandex_id.expire()))
        with pytest.raises(LoginRefused) as refused:
            await login.wait()
        assert refused.value.reason == "expired" and await engine.store.account_count() == 0


async def test_nobody_confirms_and_the_wait_stops_at_the_codes_lifetime(tmp_path):
    async with rig(tmp_path, world()) as r:
        engine = await r.engine(**APP)
        started = r.clock.now()
        login = await DeviceLogin.start(engine, sleep=ClockSleep(r))
        with pytest.raises(LoginRefused) as refused:
            await login.wait()
        assert refused.value.reason == "expired"
        lifetime, interval = OAuthConfig().code_lifetime, OAuthConfig().interval
        assert r.clock.now() - started == dt.timedelta(seconds=lifetime)  # not a second more
        assert login.polls == int(lifetime / interval)  # one poll per interval, no more


async def test_slow_down_adds_five_seconds_for_good(tmp_path):
    async with rig(tmp_path, world()) as r:
        engine = await r.engine(**APP)
        sim = r.sim.yandex_id

        def script(n: int) -> None:
            if n == 1:
                sim.slow_down()  # the first poll is told to slow down
            if n == 4:
                sim.approve()

        login = await DeviceLogin.start(engine, sleep=ClockSleep(r, script))
        await login.wait()
        pending = sim.logins[login.code.device_code.reveal()]
        interval = OAuthConfig().interval
        assert pending.slow_downs == 1 and gaps(pending) == [interval + 5] * 3


async def test_passing_trouble_at_yandex_id_is_ridden_out(tmp_path):
    async with rig(tmp_path, world()) as r:
        engine = await r.engine(**APP)
        broken = {"left": 2}
        real = engine.yandex_id.poll_device_token

        async def flaky(app, code):
            if broken["left"]:
                broken["left"] -= 1
                from metrika_tui.metrika.errors import TransientError

                raise TransientError("connection reset", error_type="connection")
            return await real(app, code)

        engine.yandex_id.poll_device_token = flaky
        login = await DeviceLogin.start(engine, sleep=ClockSleep(r, lambda n: n == 1 and r.sim.yandex_id.approve()))
        account, _ = await login.finish(await login.wait())
        assert login.polls == 3 and account.login == r.world.accounts[0].login


# -- the token lifecycle -------------------------------------------------------------------
async def logged_in(r, engine, *, lifetime: float, login: str | None = None):
    """An account as a login would leave it, its token living `lifetime` seconds more."""
    from metrika_tui.engine.accounts import add_account

    access, refresh = r.sim.yandex_id.issue(login, lifetime=lifetime)
    account, _ = await add_account(
        engine,
        Token(access),
        user_id=None,
        refresh_token=Token(refresh),
        expires_at=r.clock.now() + dt.timedelta(seconds=lifetime),
    )
    return account


async def test_a_token_is_refreshed_when_under_30_days_are_left_and_not_before(tmp_path):
    async with rig(tmp_path, world()) as r:
        engine = await r.engine(**APP)
        fresh = await logged_in(r, engine, lifetime=40 * DAY, login=r.world.accounts[0].login)
        due = await logged_in(r, engine, lifetime=20 * DAY, login=r.world.accounts[1].login)
        events = []
        engine.bus.subscribe(events.append)

        report = await TokenCare(engine).run()

        assert report.refreshed == [due.id] and r.sim.yandex_id.refreshes == 1
        after = {a.id: a for a in await engine.store.accounts()}
        assert after[fresh.id].token_expires_at == fresh.token_expires_at  # 40 days left: not yet
        assert after[due.id].token_expires_at > r.clock.now() + dt.timedelta(days=300)
        assert after[due.id].refresh_token != due.refresh_token  # a new refresh token, kept
        assert any("token refreshed" in e.message for e in events)
        await engine.plan()
        assert all(o.ok for o in await engine.run_until_idle())  # the refreshed token works
        assert (await TokenCare(engine).run()).refreshed == []  # and is not due again


async def test_a_refused_refresh_asks_for_a_new_login_and_a_login_clears_it(tmp_path):
    async with rig(tmp_path, world()) as r:
        engine = await r.engine(**APP)
        who = r.world.accounts[0].login
        account = await logged_in(r, engine, lifetime=10 * DAY, login=who)
        r.sim.yandex_id.refuse_refreshes(who)
        events = []
        engine.bus.subscribe(events.append)

        report = await TokenCare(engine).run()

        assert report.refused == [account.id]
        (error,) = [e for e in events if e.level.value == "error"]
        assert "must log in again" in error.message and LOGIN_COMMAND in error.message
        (info,) = (await engine.snapshot()).accounts
        assert info.login_needed and LOGIN_COMMAND in info.token_warning and not info.revoked
        assert (await TokenCare(engine).run()).refused == []  # asked once, not every pass
        await engine.plan()
        assert all(o.ok for o in await engine.run_until_idle())  # the token works until it dies

        login = await DeviceLogin.start(engine, sleep=ClockSleep(r, lambda n: r.sim.yandex_id.approve(login=who)))
        again, _ = await login.finish(await login.wait())
        assert again.id == account.id and again.login_needed is None  # the same account, a new token
        assert again.user_id == account.user_id
        assert again.token != account.token and await engine.store.account_count() == 1


async def test_a_token_that_cannot_be_refreshed_is_a_warning_under_14_days(tmp_path):
    async with rig(tmp_path, world()) as r:
        engine = await r.engine()  # no OAuth app configured
        from metrika_tui.engine.accounts import add_account

        access, _ = r.sim.yandex_id.issue(r.world.accounts[0].login, lifetime=20 * DAY)
        pasted, _ = await add_account(
            engine,
            Token(access),
            user_id=None,  # no refresh token
            expires_at=r.clock.now() + dt.timedelta(days=20),
        )
        stuck = await logged_in(r, engine, lifetime=20 * DAY, login=r.world.accounts[1].login)
        events = []
        engine.bus.subscribe(events.append)
        care = TokenCare(engine)
        assert (await care.run()).warned == [stuck.id]  # due for a refresh, but there is no app to ask with
        assert "no OAuth app is configured" in events[-1].message
        info = {a.id: a for a in (await engine.snapshot()).accounts}
        assert info[pasted.id].token_warning is None  # 20 days left: not yet worth a word
        r.clock.advance(days=7)
        info = {a.id: a for a in (await engine.snapshot()).accounts}
        assert "expires in 13 day(s)" in info[pasted.id].token_warning
        assert LOGIN_COMMAND in info[pasted.id].token_warning
        assert (await care.run()).warned == [pasted.id, stuck.id]
        assert (await care.run()).warned == []  # once a day, not every pass
        assert all(e.level.value == "warning" for e in events)


async def test_two_processes_refresh_one_token_once(tmp_path):
    async with rig(tmp_path, world()) as r:
        first, second = await r.engine(**APP), await r.engine(**APP)
        await logged_in(r, first, lifetime=5 * DAY)
        import asyncio

        reports = await asyncio.gather(TokenCare(first).run(), TokenCare(second).run())
        assert sorted(len(rep.refreshed) for rep in reports) == [0, 1]
        assert r.sim.yandex_id.refreshes == 1 and r.sim.yandex_id.refused_refreshes == 0


async def test_an_account_without_a_known_user_learns_it(tmp_path):
    w = world()
    async with rig(tmp_path, w) as r:
        engine = await r.engine()
        await engine.store.add_account(user_id="mine", login="guessed", token=Token(w.tokens[0]), now=r.clock.now())
        assert (await TokenCare(engine).run()).identified == [1]
        (account,) = await engine.store.accounts()
        assert (account.login, account.uid, account.user_id) == (w.accounts[0].login, w.accounts[0].uid, "mine")


async def test_adding_a_token_takes_the_login_from_yandex_id(tmp_path):
    w = world()
    async with rig(tmp_path, w) as r:
        engine = await r.engine()
        ids = await add_accounts(engine, w)
        accounts = {a.id: a for a in await engine.store.accounts()}
        for account in w.accounts:
            stored = accounts[ids[account.token]]
            assert (stored.login, stored.uid) == (account.login, account.uid)
