"""Yandex ID, simulated: the device-code login, token refresh and the login info.

Served on the same loopback server as the Metrika API (the paths do not collide):
`POST /device/code`, `POST /token` (grant_type `device_code` and `refresh_token`),
`GET /info`. A pending code is approved, denied or expired by a control (Python or
`/simulator/device/...`), or approved by itself after `auto_approve_after` seconds (the demo).
Tokens it issues belong to a world account, so the Metrika API accepts them at once.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from metrika_tui.clock import Clock
from metrika_tui.simulator.config import OAuthConfig
from metrika_tui.simulator.world import Account, World

#: the prefix of the tokens this server issues (then: account index, nonce, signature)
_ISSUED = "y0_simid_"
#: how a pending login can end, besides being approved
PENDING, APPROVED, DENIED, EXPIRED, USED = "pending", "approved", "denied", "expired", "used"


class OAuthAnswer(Exception):
    """An OAuth error answer: `{"error", "error_description"}` with its status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status

    def body(self) -> dict:
        return {"error": self.error, "error_description": self.description}


@dataclass
class PendingLogin:
    device_code: str
    user_code: str
    device_id: str
    device_name: str
    created_at: dt.datetime
    expires_at: dt.datetime
    interval: float
    state: str = PENDING
    account: Account | None = None
    polls: list[dt.datetime] = field(default_factory=list)  # when each poll arrived
    slow_downs: int = 0  # polls answered slow_down (too early, or forced)
    forced_slow_downs: int = 0  # slow_down answers still owed by `slow_down()`


@dataclass
class IssuedToken:
    account: Account
    expires_at: dt.datetime
    refresh_token: str


class YandexId:
    """The OAuth server's state: pending codes, issued tokens, refresh tokens."""

    def __init__(self, world: World, config: OAuthConfig, clock: Clock, revoked: set[str]) -> None:
        self.world, self.config, self.clock = world, config, clock
        self._revoked = revoked  # the API gate's: a revoked token is unknown to /info too
        self.logins: dict[str, PendingLogin] = {}  # by device code
        self.tokens: dict[str, IssuedToken] = {}  # access token -> its grant
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> access token
        self.refreshes = 0  # refresh grants answered with a token
        self.refused_refreshes = 0
        self._lock = threading.Lock()  # tests act from their own thread while the server answers

    # -- controls ----------------------------------------------------------------------------
    def pending(self) -> list[PendingLogin]:
        """Logins waiting for the user, oldest first."""
        with self._lock:
            return [p for p in self.logins.values() if p.state == PENDING]

    def approve(self, user_code: str | None = None, *, login: str | None = None) -> PendingLogin:
        """The user confirms the code (the newest pending one if not named), as `login`."""
        account = self._account_for(login)
        return self._settle(user_code, APPROVED, account)

    def deny(self, user_code: str | None = None) -> PendingLogin:
        return self._settle(user_code, DENIED)

    def expire(self, user_code: str | None = None) -> PendingLogin:
        return self._settle(user_code, EXPIRED)

    def slow_down(self, user_code: str | None = None, times: int = 1) -> PendingLogin:
        """Answer the next `times` polls of this code with `slow_down`, early or not."""
        with self._lock:
            login = self._find(user_code)
            login.forced_slow_downs += times
            return login

    def refuse_refreshes(self, login: str | None = None) -> int:
        """Forget the refresh tokens (of one login, or all): the next refresh is `invalid_grant`."""
        with self._lock:
            doomed = [
                r
                for r, access in self.refresh_tokens.items()
                if login is None or self.tokens[access].account.login.casefold() == login.casefold()
            ]
            for refresh in doomed:
                del self.refresh_tokens[refresh]
            return len(doomed)

    def issue(self, login: str | None = None, *, lifetime: float | None = None) -> tuple[str, str]:
        """A token and refresh token for `login`, as a finished login would get (for tests)."""
        with self._lock:
            return self._issue(self._account_for(login), self.clock.now(), lifetime)

    def is_expired(self, token: str) -> bool:
        issued = self.tokens.get(token)
        return issued is not None and issued.expires_at <= self.clock.now()

    def account_of(self, token: str) -> Account | None:
        """The world account of a token: one of the world's, or one this server issued, in
        this run or an earlier one (the token is signed with the world's seed, so a demo
        database keeps working with the next demo's simulator)."""
        account = self.world.account(token)
        if account is None and token.startswith(_ISSUED):
            index, _, rest = token[len(_ISSUED) :].partition("_")
            nonce, _, mac = rest.partition("_")
            if (
                index.isdigit()
                and int(index) < len(self.world.accounts)
                and secrets.compare_digest(mac, self._sign(int(index), nonce))
            ):
                account = self.world.accounts[int(index)]
                self.world.add_token(token, account)
        return account

    def _sign(self, index: int, nonce: str) -> str:
        key = str(self.world.seed).encode()
        return hashlib.blake2b(f"{index}:{nonce}".encode(), key=key, digest_size=8).hexdigest()

    # -- the endpoints -----------------------------------------------------------------------
    def device_code(self, form: Mapping[str, str]) -> dict:
        if form.get("client_id") != self.config.client_id:
            raise OAuthAnswer("invalid_client", "Client not found", 400)
        device_id = form.get("device_id", "")
        if device_id and not (6 <= len(device_id) <= 50 and all(32 <= ord(c) <= 126 for c in device_id)):
            raise OAuthAnswer("invalid_request", "device_id must be 6-50 printable ASCII characters")
        if len(form.get("device_name", "")) > 100:
            raise OAuthAnswer("invalid_request", "device_name is longer than 100 characters")
        now = self.clock.now()
        login = PendingLogin(
            device_code=secrets.token_hex(16),
            user_code=_user_code(),
            device_id=device_id,
            device_name=form.get("device_name", ""),
            created_at=now,
            expires_at=now + dt.timedelta(seconds=self.config.code_lifetime),
            interval=self.config.interval,
        )
        with self._lock:
            self.logins[login.device_code] = login
        return {
            "device_code": login.device_code,
            "user_code": login.user_code,
            "verification_url": self.config.verification_url,
            "interval": int(self.config.interval),
            "expires_in": int(self.config.code_lifetime),
        }

    def token(self, form: Mapping[str, str], authorization: str | None) -> dict:
        client_id, secret = _client_of(form, authorization)
        if client_id != self.config.client_id or secret != self.config.client_secret:
            raise OAuthAnswer(
                "invalid_client",
                "Wrong client secret" if client_id == self.config.client_id else "Client not found",
                401,
            )
        grant = form.get("grant_type")
        if grant == "device_code":
            return self._device_grant(form.get("code", ""))
        if grant == "refresh_token":
            return self._refresh_grant(form.get("refresh_token", ""))
        raise OAuthAnswer("unsupported_grant_type", f"Unsupported grant_type: {grant!r}"[:100])

    def info(self, token: str | None) -> dict:
        with self._lock:
            account = self.account_of(token) if token else None
            if token is None or account is None or token in self._revoked or self.is_expired(token):
                raise OAuthAnswer("unauthorized", "401 Unauthorized", 401)
        return {
            "id": account.uid,
            "login": account.login,
            "client_id": self.config.client_id,
            "display_name": account.login,
            "real_name": "",
            "psuid": f"1.{account.uid}.sim",
        }

    # -- grants ------------------------------------------------------------------------------
    def _device_grant(self, code: str) -> dict:
        now = self.clock.now()
        with self._lock:
            login = self.logins.get(code)
            if login is None:
                raise OAuthAnswer("invalid_grant", "Invalid code")
            login.polls.append(now)
            if login.state == PENDING and now >= login.expires_at:
                login.state = EXPIRED
            if login.state in (EXPIRED, USED):
                raise OAuthAnswer(
                    "expired_token" if login.state == EXPIRED else "invalid_grant",
                    "Code has expired" if login.state == EXPIRED else "Code was already used",
                )
            if login.state == DENIED:
                raise OAuthAnswer("access_denied", "The user denied access")
            early = len(login.polls) > 1 and (now - login.polls[-2]).total_seconds() < login.interval - 0.05
            if login.forced_slow_downs or early:
                login.forced_slow_downs = max(0, login.forced_slow_downs - 1)
                login.slow_downs += 1
                login.interval += 5  # RFC 8628: from now on, five seconds more
                raise OAuthAnswer("slow_down", "Too many requests, slow down")
            auto = self.config.auto_approve_after
            if login.state == PENDING and auto is not None and (now - login.created_at).total_seconds() >= auto:
                login.state, login.account = APPROVED, self._account_for(None)
            if login.state == PENDING:
                raise OAuthAnswer("authorization_pending", "User has not yet authorized your application")
            if login.account is None:  # approved names its account: never, but say so rather than crash
                raise OAuthAnswer("invalid_grant", "Code was approved for no account")
            login.state = USED
            access, refresh = self._issue(login.account, now, None)
        return self._grant_body(access, refresh)

    def _refresh_grant(self, refresh: str) -> dict:
        now = self.clock.now()
        with self._lock:
            access = self.refresh_tokens.pop(refresh, None)
            if access is None:
                self.refused_refreshes += 1
                raise OAuthAnswer("invalid_grant", "Invalid or expired refresh token")
            old = self.tokens[access]
            lifetime = self.config.token_lifetime
            # like Yandex: the same access token while plenty of its life is left, else a new one
            if (old.expires_at - now).total_seconds() > lifetime / 2:
                new_refresh = secrets.token_urlsafe(24)
                old.refresh_token = new_refresh
                self.refresh_tokens[new_refresh] = access
            else:
                access, new_refresh = self._issue(old.account, now, None)
            self.refreshes += 1
        return self._grant_body(access, new_refresh)

    def _issue(self, account: Account, now: dt.datetime, lifetime: float | None) -> tuple[str, str]:
        index, nonce = self.world.accounts.index(account), secrets.token_hex(12)
        access, refresh = f"{_ISSUED}{index}_{nonce}_{self._sign(index, nonce)}", secrets.token_urlsafe(24)
        expires = now + dt.timedelta(seconds=self.config.token_lifetime if lifetime is None else lifetime)
        self.tokens[access] = IssuedToken(account, expires, refresh)
        self.refresh_tokens[refresh] = access
        self.world.add_token(access, account)
        return access, refresh

    def _grant_body(self, access: str, refresh: str) -> dict:
        left = (self.tokens[access].expires_at - self.clock.now()).total_seconds()
        return {"token_type": "bearer", "access_token": access, "expires_in": int(left), "refresh_token": refresh}

    # -- helpers -----------------------------------------------------------------------------
    def _account_for(self, login: str | None) -> Account:
        name = login or self.config.approve_as
        account = self.world.account_by_login(name) if name else None
        if account is None and name:
            raise KeyError(f"no account with login {name!r} in this world")
        return account or self.world.accounts[0]

    def _settle(self, user_code: str | None, state: str, account: Account | None = None) -> PendingLogin:
        with self._lock:
            login = self._find(user_code)
            login.state, login.account = state, account
            return login

    def _find(self, user_code: str | None) -> PendingLogin:
        waiting = [p for p in self.logins.values() if p.state == PENDING and user_code in (None, p.user_code)]
        if not waiting:
            raise KeyError(f"no pending login{f' with code {user_code!r}' if user_code else ''}")
        return waiting[-1]


def _user_code() -> str:
    """Eight lower-case letters and digits, like Yandex's (`h5nbcr6c`), without look-alikes."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(8))


def _client_of(form: Mapping[str, str], authorization: str | None) -> tuple[str, str]:
    """The app's id and secret: from HTTP Basic if sent (then the body's are ignored), else the body."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise OAuthAnswer("Basic auth required", "Basic auth required", 400)
        try:
            client_id, _, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthAnswer("Malformed Authorization header", "Malformed Authorization header", 400) from None
        return client_id, secret
    return form.get("client_id", ""), form.get("client_secret", "")
