"""Yandex ID: the device-code login, token refresh, and who a token belongs to.

`YandexIdClient` is the only code that knows Yandex ID's URLs and answers
(`oauth.yandex.ru/device/code`, `/token`, `login.yandex.ru/info`). It returns typed
results and raises a small taxonomy: `LoginPending` (ask again later, maybe slower),
`LoginRefused` (the login is over without a token: denied or expired), `AppRejected` (the
configured app is wrong), `RefreshRefused` (the refresh token is no good: log in again),
`AuthError` (the access token is dead), `TransientError` (try again). Secrets (access and
refresh tokens, the device code, the client secret) travel as `Token`s and are written
only into request bodies and headers: never a log line, an exception or a repr.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from metrika_tui.metrika.errors import AuthError, MetrikaError, TransientError
from metrika_tui.metrika.parse import decode_json
from metrika_tui.metrika.transport import bound_transport
from metrika_tui.settings import DEFAULT_LOGIN_URL, DEFAULT_OAUTH_URL
from metrika_tui.tokens import OAuthApp, Token

log = logging.getLogger(__name__)

#: the right a Metrika reader needs (the app must be registered with it)
METRIKA_SCOPE = "metrika:read"
#: RFC 8628: a `slow_down` answer adds this much to the polling interval, for good
SLOW_DOWN_STEP = 5.0
#: the longest an answer's figures may say (a code for more than a day, a poll every hour)
_LONGEST_CODE = 24 * 3600
_LONGEST_INTERVAL = 3600
#: the longest text kept from a stranger's answer
_TEXT_LIMIT = 200

#: `error` codes of /token that mean the app itself is refused: its id, secret or rights
_APP_ERRORS = frozenset(
    {
        "invalid_client",
        "unauthorized_client",
        "invalid_scope",
        "unsupported_grant_type",
        "Basic auth required",
        "Malformed Authorization header",
    }
)


class OAuthError(MetrikaError):
    """Yandex ID refused; `error_type` is its `error` code."""


class LoginPending(OAuthError):
    """Not confirmed yet: ask again after the interval (`slow_down`: after a longer one)."""

    @property
    def slow_down(self) -> bool:
        return self.error_type == "slow_down"


class LoginRefused(OAuthError):
    """The device login ended without a token. `reason`: "denied" or "expired"."""

    def __init__(self, message: str, *, reason: str, status: int | None = None, error_type: str | None = None) -> None:
        super().__init__(message, status=status, error_type=error_type)
        self.reason = reason


class AppRejected(OAuthError):
    """The configured OAuth app is refused: a wrong client id or secret, or missing rights."""


class RefreshRefused(OAuthError):
    """The refresh token is invalid, expired or another app's: the account must log in again."""


@dataclass(frozen=True, slots=True)
class DeviceCode:
    """What `/device/code` answered: the code the user types, where, and for how long."""

    device_code: Token  # what we poll with: worth a token together with the app's secret
    user_code: str
    verification_url: str
    interval: float  # seconds between polls, at least
    expires_in: float  # seconds the codes live


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """A token `/token` issued (by a device code or a refresh)."""

    access_token: Token
    refresh_token: Token | None
    expires_in: float | None  # seconds; None when the answer did not say

    def expires_at(self, now: dt.datetime) -> dt.datetime | None:
        return now + dt.timedelta(seconds=self.expires_in) if self.expires_in is not None else None


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a token belongs to, as `login.yandex.ru/info` says (its case kept)."""

    login: str
    uid: str  # the Yandex user id, digits


class YandexIdClient:
    """Async client of Yandex ID (OAuth server and login info), over one connection pool."""

    def __init__(
        self,
        oauth_url: str = DEFAULT_OAUTH_URL,
        login_url: str = DEFAULT_LOGIN_URL,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        source_address: str | None = None,
    ) -> None:
        """`source_address`: the local address to send from (`[api] source_address`)."""
        self.oauth_url = oauth_url.rstrip("/")
        self.login_url = login_url.rstrip("/")
        self._http = httpx.AsyncClient(
            transport=transport or bound_transport(source_address, httpx.Limits()),
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            headers={"Accept": "application/json", "User-Agent": "metrika-tui"},
            follow_redirects=False,
        )

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> YandexIdClient:
        options: dict[str, Any] = dict(
            oauth_url=settings.oauth_url,
            login_url=settings.login_url,
            timeout=settings.request_timeout,
            source_address=settings.source_address,
        )
        options.update(overrides)
        return cls(**options)

    def __repr__(self) -> str:
        return f"YandexIdClient({self.oauth_url!r}, {self.login_url!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- the device login --------------------------------------------------------------------
    async def request_device_code(
        self, app: OAuthApp, *, device_id: str, device_name: str, scope: str | None = METRIKA_SCOPE
    ) -> DeviceCode:
        """`POST /device/code`: a fresh pair of codes for one login."""
        form = {"client_id": app.client_id, "device_id": device_id, "device_name": device_name[:100]}
        if scope:
            form["scope"] = scope
        payload = await self._post_form("/device/code", form, app=None)
        return DeviceCode(
            device_code=_token(payload, "device_code"),
            user_code=_printable(payload, "user_code", longest=32),
            verification_url=_url(payload, "verification_url"),
            interval=_seconds(payload, "interval", default=5.0, longest=_LONGEST_INTERVAL, least=1.0),
            expires_in=_seconds(payload, "expires_in", default=300.0, longest=_LONGEST_CODE, least=1.0),
        )

    async def poll_device_token(self, app: OAuthApp, code: DeviceCode) -> TokenGrant:
        """One poll of `/token` with the device code: the grant, or `LoginPending` / `LoginRefused`."""
        form = {"grant_type": "device_code", "code": code.device_code.reveal()}
        return _grant(await self._post_form("/token", form, app=app, device=True))

    async def refresh(self, app: OAuthApp, refresh_token: Token) -> TokenGrant:
        """`grant_type=refresh_token`: a token (maybe the same one) and a new refresh token."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token.reveal()}
        return _grant(await self._post_form("/token", form, app=app, device=False))

    async def identity(self, token: Token) -> Identity:
        """`GET login.yandex.ru/info`: the token's login and user id (any scope will do)."""
        try:
            response = await self._http.get(
                f"{self.login_url}/info",
                params={"format": "json"},
                headers={"Authorization": f"OAuth {token.reveal()}"},
            )
        except httpx.TimeoutException as exc:
            raise TransientError(
                f"Yandex ID gave no answer in time ({type(exc).__name__})", error_type="timeout"
            ) from None
        except httpx.TransportError as exc:
            raise TransientError(f"cannot reach Yandex ID ({type(exc).__name__})", error_type="connection") from None
        log.debug("GET /info -> %d (token %s)", response.status_code, token)
        if response.status_code in (401, 403):
            raise AuthError(
                "Yandex ID does not know this token", status=response.status_code, error_type="invalid_token"
            )
        payload = _payload(response)
        login = _printable(payload, "login", longest=64)
        uid = str(payload.get("id", "")).strip()
        if not uid.isdigit() or len(uid) > 30:
            raise _malformed(f"`id` is not a Yandex user id: {_clip(payload.get('id'))!r}")
        return Identity(login=login, uid=uid)

    # -- the wire ----------------------------------------------------------------------------
    async def _post_form(
        self, path: str, form: dict[str, str], *, app: OAuthApp | None, device: bool = False
    ) -> Mapping[str, Any]:
        """POST a form to the OAuth server; the answer's JSON, or the error it stands for."""
        if app is not None:  # the app's id and secret go in the body (HTTP Basic works too)
            form = {**form, "client_id": app.client_id, "client_secret": app.client_secret.reveal()}
        try:
            response = await self._http.post(f"{self.oauth_url}{path}", data=form)
        except httpx.TimeoutException as exc:
            raise TransientError(
                f"Yandex OAuth gave no answer in time ({type(exc).__name__})", error_type="timeout"
            ) from None
        except httpx.TransportError as exc:
            raise TransientError(f"cannot reach Yandex OAuth ({type(exc).__name__})", error_type="connection") from None
        log.debug("POST %s -> %d", path, response.status_code)
        if response.is_success:
            return _payload(response)
        raise _oauth_error(response, device=device)


def _payload(response: httpx.Response) -> Mapping[str, Any]:
    payload = decode_json(response.content)
    if not isinstance(payload, Mapping):
        raise _malformed(f"HTTP {response.status_code} with a body that is not a JSON object", response.status_code)
    return payload


def _oauth_error(response: httpx.Response, *, device: bool) -> MetrikaError:
    """The taxonomy for a non-2xx answer of the OAuth server."""
    status = response.status_code
    if status >= 500:
        return TransientError("Yandex OAuth is in trouble, try again", status=status, error_type="backend_error")
    payload = decode_json(response.content)
    if not isinstance(payload, Mapping) or not payload.get("error"):
        return _malformed(f"HTTP {status} without an OAuth error", status)
    code = _clip(payload.get("error"))
    said = _clip(payload.get("error_description")) or code
    if code in ("authorization_pending", "slow_down") and device:
        return LoginPending(said, status=status, error_type=code)
    if code in _APP_ERRORS:
        return AppRejected(f"the OAuth app is refused: {said}", status=status, error_type=code)
    if device and code == "access_denied":
        return LoginRefused(f"the login was denied: {said}", reason="denied", status=status, error_type=code)
    if device and code in ("expired_token", "invalid_grant", "bad_verification_code"):
        return LoginRefused(f"the code is no longer valid: {said}", reason="expired", status=status, error_type=code)
    if not device and code == "invalid_grant":
        return RefreshRefused(f"the refresh token is refused: {said}", status=status, error_type=code)
    return OAuthError(f"Yandex OAuth refused: {said}", status=status, error_type=code)


def _grant(payload: Mapping[str, Any]) -> TokenGrant:
    access = _token(payload, "access_token")
    refresh = _token(payload, "refresh_token") if payload.get("refresh_token") else None
    expires = _seconds(payload, "expires_in", default=None, longest=100 * 366 * 86400, least=0.0)
    return TokenGrant(access_token=access, refresh_token=refresh, expires_in=expires)


def _token(payload: Mapping[str, Any], key: str) -> Token:
    value = payload.get(key)
    if not isinstance(value, str) or not value.isprintable() or len(value) > 4096:
        raise _malformed(f"no usable `{key}` in the answer")
    try:
        return Token(value)
    except ValueError:
        raise _malformed(f"no usable `{key}` in the answer") from None


def _printable(payload: Mapping[str, Any], key: str, *, longest: int) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > longest:
        raise _malformed(f"no usable `{key}` in the answer: {_clip(value)!r}")
    value = value.strip()
    if not value.isascii() or not value.isprintable():  # shown on a terminal: plain text only
        raise _malformed(
            f"`{key}` holds characters a terminal should not print: {value.encode('unicode_escape')[:60]!r}"
        )
    return value


def _url(payload: Mapping[str, Any], key: str) -> str:
    url = _printable(payload, key, longest=500)
    if not url.startswith(("https://", "http://")) or any(ch.isspace() for ch in url):
        raise _malformed(f"`{key}` is not a web address: {url!r}")
    return url


def _seconds(payload: Mapping[str, Any], key: str, *, default: float | None, longest: float, least: float) -> Any:
    value = payload.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise _malformed(f"`{key}` is not a number of seconds: {_clip(value)!r}")
    return float(min(max(value, least), longest))


def _clip(value: Any) -> str:
    """A stranger's words, bounded and printable (control characters made visible)."""
    text = "" if value is None else str(value)
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    return text[:_TEXT_LIMIT] + ("…" if len(text) > _TEXT_LIMIT else "")


def _malformed(message: str, status: int | None = None) -> TransientError:
    return TransientError(f"Yandex ID answered unexpectedly: {message}", status=status, error_type="malformed")


__all__ = [
    "AppRejected",
    "DeviceCode",
    "Identity",
    "LoginPending",
    "LoginRefused",
    "OAuthError",
    "RefreshRefused",
    "TokenGrant",
    "YandexIdClient",
]
