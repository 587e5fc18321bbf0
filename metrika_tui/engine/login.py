"""Adding an account by the device-code login: a short code the user confirms on any device.

`DeviceLogin.start` asks Yandex ID for the codes; `wait` polls for the token no faster than
the interval it was given (`slow_down` adds five seconds for good), for at most the codes'
lifetime, riding out Yandex ID's passing trouble; `finish` stores the account like
`accounts add` (identity from the login info, the refresh token and expiry kept) and
discovers its counters. The command and the console both drive exactly this.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from metrika_tui import locations
from metrika_tui.engine.accounts import AccountRefused, add_account
from metrika_tui.engine.ports import EngineParts, YandexIdApi
from metrika_tui.events import Kind
from metrika_tui.metrika.errors import MetrikaError, TransientError
from metrika_tui.metrika.oauth import (
    SLOW_DOWN_STEP,
    AppRejected,
    DeviceCode,
    LoginPending,
    LoginRefused,
    TokenGrant,
)
from metrika_tui.store import Account
from metrika_tui.tokens import OAuthApp

Sleep = Callable[[float], Awaitable[None]]


class LoginNotConfigured(Exception):
    """No OAuth app is configured: the message says where to put its id and secret."""


NOT_CONFIGURED = (
    "logging in with a code needs an app registered on Yandex OAuth: put its ID and secret in"
    " the config file as [oauth] client_id and client_secret (or METRIKA_CLIENT_ID and"
    " METRIKA_CLIENT_SECRET); see the README, 'Log in with a code'"
)


@dataclass(frozen=True, slots=True)
class LoginPrompt:
    """What the user is shown: the code, where to enter it, until when."""

    user_code: str
    verification_url: str
    expires_at: dt.datetime
    interval: float


def device_identity() -> tuple[str, str]:
    """(device_id, device_name) for Yandex ID: one id per installation, kept in the data
    directory, so the user's access page lists 'metrika-tui on <host>' once, not per login."""
    path = locations.data_dir() / "device-id"
    try:
        device_id = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        device_id = ""
    if not (6 <= len(device_id) <= 50 and device_id.isascii() and device_id.isprintable()):
        device_id = uuid.uuid4().hex
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(device_id + "\n", encoding="ascii")
        except OSError:
            pass  # a fresh id per login is worse, not wrong
    host = "".join(ch for ch in socket.gethostname() if ch.isascii() and ch.isprintable())[:60] or "a server"
    return device_id, f"metrika-tui on {host}"


class DeviceLogin:
    """One device-code login, from the code to the stored account."""

    def __init__(
        self,
        engine: EngineParts,
        yandex_id: YandexIdApi,
        app: OAuthApp,
        code: DeviceCode,
        started: dt.datetime,
        *,
        sleep: Sleep | None = None,
    ) -> None:
        self.engine = engine
        self.yandex_id = yandex_id
        self.app = app
        self.code = code
        self.prompt = LoginPrompt(
            code.user_code, code.verification_url, started + dt.timedelta(seconds=code.expires_in), code.interval
        )
        self.interval = code.interval
        self.polls = 0
        self._sleep = sleep or asyncio.sleep

    @classmethod
    async def start(cls, engine: EngineParts, *, sleep: Sleep | None = None) -> DeviceLogin:
        """Ask Yandex ID for a code. Raises LoginNotConfigured, or the client's errors."""
        app, yandex_id = engine.settings.oauth_app, engine.yandex_id
        if app is None or yandex_id is None:  # no Yandex ID: an engine built without one (tests)
            raise LoginNotConfigured(NOT_CONFIGURED)
        device_id, device_name = device_identity()
        code = await yandex_id.request_device_code(app, device_id=device_id, device_name=device_name)
        engine.bus.emit(Kind.INFO, f"login started: code shown, valid for {code.expires_in:.0f}s")
        return cls(engine, yandex_id, app, code, engine.clock.now(), sleep=sleep)

    def seconds_left(self) -> float:
        return (self.prompt.expires_at - self.engine.clock.now()).total_seconds()

    async def wait(self) -> TokenGrant:
        """Poll until the user confirms: the grant. Raises LoginRefused (denied, or expired:
        the codes' lifetime is the bound), AppRejected, or OAuthError."""
        while True:
            left = self.seconds_left()
            if left <= 0:
                raise LoginRefused("the code expired before it was confirmed", reason="expired")
            await self._sleep(min(self.interval, left))  # never sooner than the interval
            self.polls += 1
            try:
                return await self.yandex_id.poll_device_token(self.app, self.code)
            except LoginPending as exc:
                if exc.slow_down:
                    self.interval += SLOW_DOWN_STEP
            except TransientError:
                pass  # Yandex ID's passing trouble: ask again at the next interval, within the lifetime

    async def finish(
        self, grant: TokenGrant, *, user_id: str | None = None, discover: bool = True
    ) -> tuple[Account, int]:
        """Store the account (identity from the login info) and its counters: (account, found)."""
        account, found = await add_account(
            self.engine,
            grant.access_token,
            user_id=user_id,
            discover=discover,
            refresh_token=grant.refresh_token,
            expires_at=grant.expires_at(self.engine.clock.now()),
        )
        return account, found


APP_REJECTED = "Yandex OAuth refused the configured app: {}; check [oauth] client_id and client_secret"


async def start_login_or_refuse(engine: EngineParts) -> DeviceLogin:
    """`DeviceLogin.start`, every way it fails told as AccountRefused (the console's words)."""
    try:
        return await DeviceLogin.start(engine)
    except LoginNotConfigured as exc:
        raise AccountRefused(str(exc)) from None
    except AppRejected as exc:
        raise AccountRefused(APP_REJECTED.format(exc.message)) from None
    except MetrikaError as exc:
        raise AccountRefused(f"could not get a code from Yandex ID: {exc}") from None


async def finish_login_or_refuse(login: DeviceLogin, *, user_id: str | None) -> tuple[Account, int]:
    """Wait for the confirmation and store the account: (account, found), or AccountRefused."""
    try:
        grant = await login.wait()
        return await login.finish(grant, user_id=user_id)
    except LoginRefused as exc:
        raise AccountRefused(
            "the login was denied on the Yandex page"
            if exc.reason == "denied"
            else "the code expired before it was confirmed"
        ) from None
    except AppRejected as exc:
        raise AccountRefused(APP_REJECTED.format(exc.message)) from None
    except MetrikaError as exc:
        raise AccountRefused(f"the login failed: {exc}") from None
