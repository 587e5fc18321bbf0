"""The one way `metrika_tui` talks to Yandex Metrika.

`MetrikaClient` knows the URLs, the Authorization header and the answers' shapes; it
returns models and raises only the taxonomy in `errors`. It keeps under the quotas by
itself (see `limits`), retries what is worth retrying (see `retry`), and never lets the
token into a log line, an exception or a repr.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx

from metrika_tui import locations
from metrika_tui.metrika import parse
from metrika_tui.metrika.errors import MetrikaError, QuotaError, TransientError
from metrika_tui.metrika.host_pace import address_of, make_pacer
from metrika_tui.metrika.limits import (
    ReportBudget,
    RequestMeter,
    TokenGates,
    UtcClock,
    WallClock,
)
from metrika_tui.metrika.retry import RetryHook, RetryPolicy, retrying
from metrika_tui.metrika.stats import ClientStats, StatsKeeper
from metrika_tui.models import DAILY_METRICS, Counter, Report
from metrika_tui.settings import DEFAULT_API_URL, Settings
from metrika_tui.tokens import Token

log = logging.getLogger(__name__)

T = TypeVar("T")

COUNTERS_PATH = "/management/v1/counters"
COUNTER_PATH = "/management/v1/counter/{id}"
REPORT_PATH = "/stat/v1/data"

#: seconds added to the rolling second the pacer counts sends in (see `RatePacer`): the
#: server counts arrivals, which trail our sends by the wire and its own pauses. Sends are
#: counted as their first byte is written, so 80 ms of that jitter is tolerated for 7% of
#: the rate (was: 10% of the rate spare, counted where requests were booked, so every pause
#: of our event loop between booking and writing ate into it). 50 ms met one 429 in 4,000
#: requests on a busy machine: the simulator's own pauses reached 50-60 ms
RATE_MARGIN = 0.08


class MetrikaClient:
    """Async Metrika API client; implements `metrika_tui.engine.ports.MetrikaApi`.

    One instance per process: it owns the connection pool and the quota keeping, which
    only work if every request goes through the same object. The requests-a-second pace is
    the host's: every client on the host talking to the same API address books its slots in
    one file (`host_pace`, `pace_file`, default `locations.pace_file()`), so several processes
    together keep to `max_rps`. `share_pace=False`, or a `transport` of the caller's (a mock,
    an app in process: no shared address), paces this client alone.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_API_URL,
        *,
        per_token_requests: int = 3,
        max_rps: float = 30.0,
        report_budget: int = 200,
        report_window_seconds: float = 300,
        max_budget_wait: float = 3.0,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        report_page_size: int = 10_000,
        counters_page_size: int = 1000,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: WallClock | None = None,
        on_retry: RetryHook | None = None,
        share_pace: bool = True,
        pace_file: Path | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._clock = clock or UtcClock()
        self._retry = retry
        self._on_retry = on_retry
        self._report_page_size = report_page_size
        self._counters_page_size = counters_page_size
        self._gates = TokenGates(per_token_requests)
        shared = share_pace and transport is None
        self._pacer = make_pacer(max_rps, margin=RATE_MARGIN, address=address_of(self.base_url) if shared else None,
                                 path=(pace_file or locations.pace_file()) if shared else None)  # fmt: skip
        window = dt.timedelta(seconds=report_window_seconds)
        self._budget = ReportBudget(
            report_budget,
            window,
            max_wait=max_budget_wait,
            margin=min(dt.timedelta(seconds=1), window * 0.05),
            clock=self._clock,
        )
        self._meter = RequestMeter()
        self._stats = StatsKeeper()
        pool = max(16, 4 * per_token_requests, int(max_rps * 2))
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
            headers={"Accept": "application/json", "User-Agent": "metrika-tui"},
            follow_redirects=False,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> MetrikaClient:
        options: dict[str, Any] = dict(
            base_url=settings.api_url,
            per_token_requests=settings.per_token_requests,
            max_rps=settings.max_rps,
            report_budget=settings.report_budget,
            report_window_seconds=settings.report_window_seconds,
            timeout=settings.request_timeout,
        )
        options.update(overrides)
        return cls(**options)

    def __repr__(self) -> str:
        return f"MetrikaClient({self.base_url!r})"

    async def aclose(self) -> None:
        await self._http.aclose()
        self._pacer.close()

    async def __aenter__(self) -> MetrikaClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- the calls the engine makes ------------------------------------------------------

    async def list_counters(self, token: Token) -> list[Counter]:
        """Every counter the token can see: pages by the 1-based offset until `rows`."""
        counters: list[Counter] = []
        offset, size = 1, self._counters_page_size
        while True:
            page = await self._get_json(
                token, COUNTERS_PATH, {"per_page": size, "offset": offset}, "rows", "counters"
            )
            items = page["counters"]
            counters.extend(parse.parse_counter(item) for item in items)
            offset += size
            if offset > _whole(page["rows"], "rows") or not items:
                return counters

    async def get_counter(self, token: Token, counter_id: int) -> Counter:
        page = await self._get_json(token, COUNTER_PATH.format(id=int(counter_id)), {}, "counter")
        return parse.parse_counter(page["counter"])

    async def daily_report(
        self, token: Token, counter_id: int, date1: dt.date, date2: dt.date
    ) -> Report:
        """Daily figures (rows: DailyStat) for the window, every page read."""
        params = {"dimensions": "ym:s:date", "metrics": ",".join(DAILY_METRICS), "sort": "ym:s:date"}
        # the monthly users follow: hold a report slot for them (see ReportBudget)
        return await self._report(token, counter_id, date1, date2, params, parse.parse_daily_rows,
                                  budget=("hold", counter_id))  # fmt: skip

    async def monthly_users(
        self, token: Token, counter_id: int, date1: dt.date, date2: dt.date
    ) -> Report:
        """Users at month grain (rows: MonthUsers), for every month the window touches."""
        params = {"dimensions": "ym:s:startOfMonth", "metrics": "ym:s:users", "sort": "ym:s:startOfMonth"}
        # whole months (a month's users are not a sum of days), but never past today
        today = self._clock.now().astimezone(dt.UTC).date()
        first, last = date1.replace(day=1), max(date2, min(_month_end(date2), today))
        return await self._report(token, counter_id, first, last, params, parse.parse_month_rows,
                                  budget=("held", counter_id))  # fmt: skip

    def stats(self) -> ClientStats:
        """Figures for the console header: rate, in flight, retries, quota headroom."""
        headroom = {token: self._budget.headroom(token) for token in self._budget.tokens()}
        return self._stats.snapshot(
            requests_per_second=self._meter.per_second(),
            requests_total=self._meter.total,
            in_flight=self._gates.in_flight(),
            report_headroom=headroom,
        )

    # -- paging, retries, limits -----------------------------------------------------------

    async def _report(
        self,
        token: Token,
        counter_id: int,
        date1: dt.date,
        date2: dt.date,
        params: Mapping[str, str],
        parse_rows: Callable[[Mapping[str, Any]], list[T]],
        budget: tuple[str, int] | None = None,
    ) -> Report:
        """Page through `/stat/v1/data` with the 1-based offset until `total_rows`.
        `budget`: ("hold" | "held", key) for the first page (see `_spend_budget`)."""
        rows: list[T] = []
        pages: list[dict] = []
        sampled = False
        offset, limit, total = 1, self._report_page_size, 0
        while True:
            query = {
                "ids": int(counter_id), "date1": date1.isoformat(), "date2": date2.isoformat(),
                "accuracy": "full", "limit": limit, "offset": offset, **params,
            }  # fmt: skip
            page = await self._get_json(token, REPORT_PATH, query, "data", "total_rows", report=True,
                                        budget=budget if offset == 1 else None)  # fmt: skip
            pages.append(dict(page))
            rows.extend(parse_rows(page))
            sampled = sampled or bool(page.get("sampled"))
            total = _whole(page["total_rows"], "total_rows")
            offset += limit
            if offset > total or not page["data"]:
                return Report(tuple(rows), tuple(pages), sampled=sampled, total_rows=total)

    async def _get_json(
        self, token: Token, path: str, params: Mapping[str, Any], *keys: str, report: bool = False,
        budget: tuple[str, int] | None = None,
    ) -> Mapping[str, Any]:
        """GET with retries; the decoded answer, checked to hold `keys`."""
        async for attempt in retrying(self._retry, self._note_retry):
            with attempt:
                payload = await self._send(token, path, params, report=report, budget=budget)
                return parse.expect_mapping(payload, *keys)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _note_retry(self, exc: MetrikaError, attempt: int, wait: float) -> None:
        self._stats.retried(exc)
        if self._on_retry is not None:
            self._on_retry(exc, attempt, wait)

    async def _send(
        self, token: Token, path: str, params: Mapping[str, Any], *, report: bool,
        budget: tuple[str, int] | None = None,
    ) -> Any:
        """One request inside every limit: the token's gate, the report budget, the pace."""
        async with self._gates.hold(token):
            sent = await self._pacer.wait()
            if report and await self._spend_budget(token, budget):
                sent = await self._pacer.wait()  # we slept for the budget: book a fresh slot
            self._meter.mark()
            started = time.monotonic()
            try:
                response = await self._http.get(
                    path, params=params, headers={"Authorization": f"OAuth {token.reveal()}"},
                    extensions={"trace": _when_written(sent)},
                )
            except httpx.TimeoutException as exc:
                raise TransientError(f"no answer in time ({type(exc).__name__})", error_type="timeout") from None
            except httpx.TransportError as exc:
                raise TransientError(f"connection trouble ({type(exc).__name__})", error_type="connection") from None
        log.debug(
            "GET %s -> %d in %.0f ms (token %s)",
            path, response.status_code, 1000 * (time.monotonic() - started), token,
        )  # fmt: skip
        return self._decode(response, report=report)

    async def _spend_budget(self, token: Token, budget: tuple[str, int] | None = None) -> bool:
        """Take one report request from the token's budget; True if that meant waiting.

        ("hold", key): also hold one for the request that follows (all or nothing);
        ("held", key): spend the one held under `key`, if any."""
        how, key = budget or ("", None)
        if how == "held" and self._budget.take_held(token, key):
            return False
        try:
            return await self._budget.acquire(token, hold=key if how == "hold" else None) > 0
        except QuotaError as exc:
            self._stats.quota(exc)
            raise

    def _decode(self, response: httpx.Response, *, report: bool) -> Any:
        if response.is_success:
            payload = parse.decode_json(response.content)
            if payload is None:
                raise parse.MalformedAnswer(f"HTTP {response.status_code} with a body that is not JSON")
            return payload
        window = self._budget.window if report else None
        error = parse.error_from_response(
            response.status_code,
            response.content,
            now=self._clock.now(),
            retry_after=response.headers.get("Retry-After"),
            report_window=window,
        )
        if isinstance(error, QuotaError):
            self._stats.quota(error)
        raise error


def _when_written(sent: Callable[[], None]):
    """An httpx trace hook telling the pacer the moment the request's headers are written:
    where it really leaves, which the event loop may have delayed past its paced slot."""

    async def trace(event: str, info: Mapping[str, Any]) -> None:
        if event.endswith("send_request_headers.started"):
            sent()

    return trace


def _whole(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise parse.MalformedAnswer(f"`{name}` is not a number: {value!r}") from None


def _month_end(day: dt.date) -> dt.date:
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


__all__ = ["ClientStats", "MetrikaClient", "RetryPolicy"]
