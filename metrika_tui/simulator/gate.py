"""The request path of the simulated API: route, quotas, auth, latency, faults, answer.

Written against raw ASGI rather than Starlette's Request/Response: the benchmarks push
thousands of requests a second through here, and a dropped connection needs the server's
own `send` (see `_drop`). Starlette serves the /simulator control routes around it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from urllib.parse import parse_qsl

import httpx

from metrika_tui.simulator import errors
from metrika_tui.simulator.config import SimulatorConfig
from metrika_tui.simulator.errors import ApiError
from metrika_tui.simulator.hostile import Hostility
from metrika_tui.simulator.management import counters_page, one_counter
from metrika_tui.simulator.params import parse_ids, parse_report
from metrika_tui.simulator.quotas import QuotaKeeper
from metrika_tui.simulator.reports import bytime_report, data_report
from metrika_tui.simulator.stats import SimStats
from metrika_tui.simulator.trouble import Trouble
from metrika_tui.simulator.world import Account, World

_JSON = b"application/json; charset=utf-8"
_HTML = b"text/html; charset=utf-8"
_COUNTER_PREFIX = "/management/v1/counter/"
_REPORTS = frozenset({"data", "bytime"})
_ERROR_FAULTS = {
    "backend_error": errors.backend_error,
    "timeout": errors.timeout,
    "too_complicated": errors.too_complicated,
}


class ConnectionDropped(httpx.RemoteProtocolError):
    """Raised in-process (no socket to close) so an ASGI-mounted client sees a broken connection."""


def endpoint_of(path: str) -> str | None:
    """Which API endpoint a path is, or None for an unknown path (404)."""
    path = path.rstrip("/")
    if path == "/stat/v1/data":
        return "data"
    if path == "/stat/v1/data/bytime":
        return "bytime"
    if path == "/management/v1/counters":
        return "counters"
    if path.startswith(_COUNTER_PREFIX) and path[len(_COUNTER_PREFIX) :].isdigit():
        return "counter"
    return None


def token_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The token of `Authorization: OAuth <token>`; 401 without one."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "oauth" and token.strip():
                return token.strip()
            break
    raise errors.unauthorized()


class ApiGate:
    """Serves the API paths. Holds the live state: quotas, trouble, stats, revoked tokens."""

    def __init__(self, world: World, config: SimulatorConfig, stats: SimStats) -> None:
        self.world = world
        self.config = config
        self.clock = config.clock
        self.stats = stats
        self.quotas = QuotaKeeper(config.quotas, config.clock, watch=config.watch, on_breach=stats.note_violation)
        self.trouble = Trouble(config.latency, config.faults, config.seed)
        self.hostile = Hostility(config.hostile)
        self.revoked: set[str] = set()
        #: whether a token the simulated Yandex ID issued has outlived its lifetime
        self.token_expired: Callable[[str], bool] = lambda _token: False
        #: the account of a token (the simulated Yandex ID also knows the tokens it issued)
        self.token_account: Callable[[str], Account | None] = world.account
        self._handlers: dict[str, Callable[[Account, dict, dt.datetime, str], dict]] = {
            "counters": lambda account, params, now, _path: counters_page(self.world, account, params, now),
            "counter": lambda account, _params, now, path: one_counter(
                self.world, account, int(path.rstrip("/").rsplit("/", 1)[1]), now
            ),
            "data": self._data,
            "bytime": self._bytime,
        }

    async def __call__(self, scope, receive, send) -> None:
        path = scope["path"]
        endpoint = endpoint_of(path)
        client = scope.get("client")
        address = client[0] if client else "unknown"  # request.client.host: the per-address quota's key
        self.stats.note_arrival(endpoint or "unknown", self.clock.now().timestamp(), address)
        if endpoint is None:
            return await self._error(send, errors.not_found(path), None)
        if scope["method"] not in ("GET", "HEAD"):
            return await self._error(send, errors.method_not_allowed(scope["method"]), None)
        token = None
        report = endpoint in _REPORTS
        try:
            self.quotas.admit_address(address)
            token = token_of(scope["headers"])
            account = self.token_account(token)
            if token in self.revoked or account is None or self.token_expired(token):
                raise errors.invalid_token()
            login = account.login  # the per-user quotas are the login's, shared by its tokens
            params = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            counter_ids = parse_ids(params) if report else ()
            self.quotas.admit_user(login, report=report, counter_ids=counter_ids, address=address)
        except ApiError as error:
            return await self._error(send, error, token)
        self.stats.in_flight += 1
        self.stats.note_in_flight(token, self.quotas.in_flight[login])
        try:
            await self._answer(send, endpoint, token, account, params, path, report)
        finally:
            self.quotas.release(login)
            self.stats.in_flight -= 1

    async def _answer(
        self, send, endpoint: str, token: str, account: Account, params: dict, path: str, report: bool
    ) -> None:
        trouble = self.trouble
        fault = trouble.pick_fault(report=report)
        delay = trouble.delay_seconds() + (trouble.faults.slow_seconds if fault == "slow" else 0.0)
        if fault is not None:
            self.stats.faults[fault] += 1
        if delay:
            await asyncio.sleep(delay)
        if fault in _ERROR_FAULTS:
            return await self._error(send, _ERROR_FAULTS[fault](), token)
        if fault == "html_500":
            self.stats.note_answer(500, None, token)
            return await _respond(send, 500, errors.HTML_500, _HTML)
        if fault == "drop_connection":
            return await _drop(send)
        if token in self.revoked:  # revoked while the answer was on its way
            return await self._error(send, errors.invalid_token(), token)
        try:
            ids = _counters_asked(endpoint, params, path)
            self.hostile.refuse(endpoint, ids)
            answer = self._handlers[endpoint](
                account, self.hostile.params(endpoint, params, ids), self.clock.now(), path
            )
        except ApiError as error:
            return await self._error(send, error, token)
        answer = self.hostile.rewrite(endpoint, answer, ids)
        body = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()  # NaN stays NaN
        if fault == "malformed_json":
            body = body[: max(1, len(body) // 2)]
        self.stats.note_answer(200, None, token)
        await _respond(send, 200, body, _JSON, trickle=self.hostile.trickle(endpoint, ids))

    def _data(self, account: Account, params: dict, now: dt.datetime, _path: str) -> dict:
        query = parse_report(params, bytime=False)
        self._check_access(account, query.ids)
        return data_report(self.world, query, now, self.config.data_lag_seconds)

    def _bytime(self, account: Account, params: dict, now: dt.datetime, _path: str) -> dict:
        query = parse_report(params, bytime=True)
        self._check_access(account, query.ids)
        return bytime_report(self.world, query, now, self.config.data_lag_seconds)

    def _check_access(self, account: Account, ids: tuple[int, ...]) -> None:
        for cid in ids:
            if not self.world.can_read(account, cid):
                raise errors.access_denied(cid)

    async def _error(self, send, error: ApiError, token: str | None) -> None:
        self.stats.note_answer(error.status, error.error_type, token)
        await _respond(send, error.status, error.body(), _JSON)


def _counters_asked(endpoint: str, params: dict, path: str) -> tuple[int, ...]:
    if endpoint in _REPORTS:
        return parse_ids(params)
    if endpoint == "counter":
        return (int(path.rstrip("/").rsplit("/", 1)[1]),)
    return ()


#: a trickling answer stops after this long, answered or not (the simulator's own bound)
TRICKLE_LIMIT_SECONDS = 120.0


async def _respond(send, status: int, body: bytes, content_type: bytes, *, trickle: float = 0.0) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    if not trickle:
        await send({"type": "http.response.body", "body": body})
        return
    cycle = getattr(send, "__self__", None)  # uvicorn's request cycle: it knows when the client left
    for n in range(min(len(body), int(TRICKLE_LIMIT_SECONDS / trickle) + 1)):
        if getattr(cycle, "disconnected", False):
            return
        await send({"type": "http.response.body", "body": body[n : n + 1], "more_body": n + 1 < len(body)})
        await asyncio.sleep(trickle)


async def _drop(send) -> None:
    """Close the connection without a byte of answer.

    Raising before the response starts would make uvicorn answer 500, so close the socket
    itself: uvicorn's `send` is a bound method of the request cycle that owns the transport.
    Mounted in-process there is no socket: raise what httpx raises for a broken connection.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionDropped("Server disconnected without sending a response.")
    transport.close()
    for _ in range(10):  # let uvicorn see the close, so it does not try to answer 500
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0)
