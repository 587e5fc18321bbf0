"""The one way `metrika_tui` talks to Yandex Metrika.

`MetrikaClient` knows the URLs, the Authorization header and the answers' shapes; it
returns models and raises only the taxonomy in `errors`. It keeps under the quotas by
itself (see `limits`), retries what is worth retrying (see `retry`), and never lets the
token into a log line, an exception or a repr.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx

from metrika_tui import locations
from metrika_tui.clock import Clock, SystemClock
from metrika_tui.metrika import parse
from metrika_tui.metrika.errors import BadAnswer, MetrikaError, QuotaError, TransientError
from metrika_tui.metrika.host_pace import address_of, make_pacer
from metrika_tui.metrika.limits import (
    ReportBudget,
    RequestMeter,
    UserGates,
)
from metrika_tui.metrika.retry import RetryHook, RetryPolicy, retrying
from metrika_tui.metrika.shared_budget import ReportLedger, SharedReportBudget
from metrika_tui.metrika.stats import OUTCOMES, ClientStats, StatsKeeper, outcome_of
from metrika_tui.metrika.transport import bound_transport
from metrika_tui.models import DAILY_METRICS, Counter, Report, ReportRequest, month_end, month_start
from metrika_tui.settings import DEFAULT_API_URL, Settings
from metrika_tui.tokens import Token

log = logging.getLogger(__name__)

T = TypeVar("T")

COUNTERS_PATH = "/management/v1/counters"
COUNTER_PATH = "/management/v1/counter/{id}"
REPORT_PATH = "/stat/v1/data"

#: seconds added to the rolling second the pacer counts sends in (see `RatePacer`): the
#: server counts arrivals, which trail our sends (counted as their first byte is written) by
#: the wire and its own pauses; the margin absorbs that jitter at the cost of a little rate.
#: How it was chosen: docs/performance.md, "pacing counted where requests leave"
RATE_MARGIN = 0.08


class MetrikaClient:
    """Async Metrika API client; implements `metrika_tui.engine.ports.MetrikaApi`.

    One instance per process: it owns the connection pool and the quota keeping, which
    only work if every request goes through the same object. Metrika counts its per-user
    quotas (3 in flight, 200 reports per 5 minutes) per Yandex login, shared by every token
    of it: each call takes the token's `login`, and keeps to the limits of that login (of
    the token alone when none is given). The requests-a-second pace is
    the sending address's: every client on the host sending from it to the same API address
    books its slots in one file (`host_pace`, `pace_file`, default
    `locations.pace_file(source_address)`), so several processes together keep to `max_rps`.
    `source_address` binds every connection to that local address (a host of its own to the
    API). `share_pace=False`, or a `transport` of the caller's (a mock, an app in process: no
    shared address), paces this client alone.
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
        request_deadline: float = 120.0,
        max_answer_bytes: int = 16 * 1024 * 1024,
        retry: RetryPolicy | None = None,
        report_page_size: int = 10_000,
        counters_page_size: int = 1000,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        on_retry: RetryHook | None = None,
        share_pace: bool = True,
        pace_file: Path | None = None,
        source_address: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._clock = clock or SystemClock()
        self._retry = retry or RetryPolicy()
        self._on_retry = on_retry
        self._report_page_size = report_page_size
        self._counters_page_size = counters_page_size
        self._deadline = request_deadline  # a whole request, however slowly it trickles in
        self._max_answer_bytes = max_answer_bytes
        self._gates = UserGates(per_token_requests)
        self._request_listeners: list[Callable[[Token], None]] = []
        self._answer_listeners: list[Callable[[str, float], None]] = []
        shared = share_pace and transport is None
        self._pacer = make_pacer(
            max_rps,
            margin=RATE_MARGIN,
            address=address_of(self.base_url) if shared else None,
            path=(pace_file or locations.pace_file(source_address)) if shared else None,
        )
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
        limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport or bound_transport(source_address, limits),
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            limits=limits,
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
            request_deadline=settings.request_deadline_seconds,
            max_answer_bytes=settings.max_answer_bytes,
            source_address=settings.source_address,
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

    async def list_counters(self, token: Token, *, login: str | None = None) -> list[Counter]:
        """Every counter the token can see: pages by the 1-based offset, as many as the first
        answer's `rows` implies (bounded; an empty or repeated page is a BadAnswer)."""
        counters: dict[int, Counter] = {}  # a counter added meanwhile may shift one into the next page
        offset, size, previous = 1, self._counters_page_size, None
        total = needed = 0  # the first page says
        for number in itertools.count():
            page = await self._get_json(
                token, login, COUNTERS_PATH, {"per_page": size, "offset": offset}, "rows", "counters"
            )
            if number == 0:
                total = parse.whole_number(page["rows"], "rows")
                needed = parse.pages_needed(
                    total,
                    size,
                    most_rows=parse.MAX_COUNTER_PAGES * size,
                    most_pages=parse.MAX_COUNTER_PAGES,
                    what="the counters list",
                )
            if not isinstance(page["counters"], list):
                raise parse.MalformedAnswer("`counters` is not a list")
            found = [parse.parse_counter(item) for item in page["counters"]]
            ids = [c.id for c in found]
            parse.check_page(ids, previous, offset=offset, total=total, what="the counters list")
            counters.update((c.id, c) for c in found if c.id not in counters)
            previous, offset = ids, offset + size
            if number + 1 >= needed:
                return list(counters.values())
        raise AssertionError("unreachable")

    async def get_counter(self, token: Token, counter_id: int, *, login: str | None = None) -> Counter:
        page = await self._get_json(token, login, COUNTER_PATH.format(id=int(counter_id)), {}, "counter")
        return parse.parse_counter(page["counter"])

    async def read_window(
        self, token: Token, counter_id: int, requests: Sequence[ReportRequest], *, login: str | None = None
    ) -> list[Report]:
        """Every report request of one sync, in order. The report budget is booked for all of
        them by the first (all or nothing, see `ReportBudget`): a sync never reads half a
        window and has its answers thrown away when the budget runs out in the middle."""
        reports = []
        key = self._key(token, login)
        try:
            for i, request in enumerate(requests):
                budget = ("hold", counter_id, len(requests) - 1) if i == 0 else ("held", counter_id, 0)
                if request.grain == "month":
                    reports.append(await self._month_users(token, login, counter_id, request, budget))
                else:
                    params = {"dimensions": "ym:s:date", "metrics": ",".join(DAILY_METRICS), "sort": "ym:s:date"}
                    report = await self._report(
                        token,
                        login,
                        counter_id,
                        request.date1,
                        request.date2,
                        params,
                        parse.parse_daily_rows,
                        budget,
                        most_rows=parse.days_in(request.date1, request.date2),
                    )
                    parse.check_days(report.rows, request.date1, request.date2)
                    reports.append(report)
        finally:
            self._budget.release_held(key, counter_id)
        return reports

    async def _month_users(
        self,
        token: Token,
        login: str | None,
        counter_id: int,
        request: ReportRequest,
        budget: tuple[str, Hashable, int],
    ) -> Report:
        params = {"dimensions": "ym:s:startOfMonth", "metrics": "ym:s:users", "sort": "ym:s:startOfMonth"}
        # whole months (a month's users are not a sum of days), but never past today
        today = self._clock.now().astimezone(dt.UTC).date()
        first, last = month_start(request.date1), max(request.date2, min(month_end(request.date2), today))
        report = await self._report(
            token,
            login,
            counter_id,
            first,
            last,
            params,
            parse.parse_month_rows,
            budget,
            most_rows=parse.months_in(first, last),
        )
        parse.check_months(report.rows, first, last)
        return report

    def share_report_budget(self, ledger: ReportLedger) -> None:
        """Keep each login's report budget in `ledger` (a store every host shares) instead of
        this process's memory: N hosts on one login stay under its budget together."""
        self._budget = SharedReportBudget(
            ledger,
            self._budget.budget,
            self._budget.window,
            max_wait=self._budget.max_wait,
            margin=self._budget.margin,
            clock=self._clock,
        )

    def add_request_listener(self, listener: Callable[[Token], None]) -> None:
        """`listener(token)` hears of every request as it leaves, refused ones included (Metrika
        counts those against the daily quota too)."""
        self._request_listeners.append(listener)

    def add_answer_listener(self, listener: Callable[[str, float], None]) -> None:
        """`listener(outcome, seconds)` hears how each request sent ended and how long it took:
        outcome is one of `OUTCOMES` (see `outcome_of`)."""
        self._answer_listeners.append(listener)

    def _tell_answer(self, outcome: str, started: float) -> None:
        seconds = time.monotonic() - started
        for listener in self._answer_listeners:
            listener(outcome, seconds)

    def stats(self) -> ClientStats:
        """Figures for the console header: rate, in flight, retries, quota headroom."""
        headroom = {key: self._budget.headroom(key) for key in self._budget.keys()}  # noqa: SIM118 (a budget book, not a dict)
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
        login: str | None,
        counter_id: int,
        date1: dt.date,
        date2: dt.date,
        params: Mapping[str, str],
        parse_rows: Callable[[Mapping[str, Any]], list[T]],
        budget: tuple[str, Hashable, int] | None = None,
        *,
        most_rows: int,
    ) -> Report:
        """Every page of `/stat/v1/data` (see `_pages`). A sampled answer is read once more (it
        asks accuracy=full already; a less busy API may answer exactly): if still sampled, it
        comes back marked so. `budget`: ("hold" | "held", name, follow-ups) for the first page."""
        read = (token, login, counter_id, date1, date2, params, parse_rows)
        report = await self._pages(*read, budget, most_rows)
        if report.sampled:
            log.info("counter %d: sampled answer (share %.3f), read once more", counter_id, report.sample_share)
            report = await self._pages(*read, None, most_rows)
        return report

    async def _pages(
        self,
        token: Token,
        login: str | None,
        counter_id: int,
        date1: dt.date,
        date2: dt.date,
        params: Mapping[str, str],
        parse_rows: Callable[[Mapping[str, Any]], list[T]],
        budget: tuple[str, Hashable, int] | None,
        most_rows: int,
    ) -> Report:
        """Page with the 1-based offset, as many pages as the first answer's `total_rows` implies:
        at most `most_rows` rows can exist and MAX_REPORT_PAGES are read; an empty or repeated
        page is a BadAnswer (see `parse.pages_needed`, `parse.check_page`)."""
        rows: list[T] = []
        pages: list[dict[str, Any]] = []
        sampled, share, previous = False, 1.0, None
        totals: dict[str, float] = {}
        offset, limit = 1, self._report_page_size
        total = needed = 0  # the first page says
        for number in itertools.count():
            query = {
                "ids": int(counter_id),
                "date1": date1.isoformat(),
                "date2": date2.isoformat(),
                "accuracy": "full",
                "limit": limit,
                "offset": offset,
                **params,
            }
            page = await self._get_json(
                token,
                login,
                REPORT_PATH,
                query,
                "data",
                "total_rows",
                report=True,
                budget=budget if offset == 1 else None,
            )
            what = f"report of counter {counter_id}"
            if number == 0:
                total = parse.whole_number(page["total_rows"], "total_rows")
                needed = parse.pages_needed(
                    total, limit, most_rows=most_rows, most_pages=parse.MAX_REPORT_PAGES, what=what
                )
                totals = parse.parse_totals(page, params["metrics"].split(","))
            if not isinstance(page["data"], list):
                raise parse.MalformedAnswer("`data` is not a list")
            parse.check_page(page["data"], previous, offset=offset, total=total, what=what)
            pages.append(dict(page))
            rows.extend(parse_rows(page))
            page_sampled, page_share = parse.sampling(page)
            sampled, share = sampled or page_sampled, min(share, page_share)
            previous, offset = page["data"], offset + limit
            if number + 1 >= needed:
                return Report(
                    tuple(rows), tuple(pages), sampled=sampled, total_rows=total, totals=totals, sample_share=share
                )
        raise AssertionError("unreachable")

    async def _get_json(
        self,
        token: Token,
        login: str | None,
        path: str,
        params: Mapping[str, Any],
        *keys: str,
        report: bool = False,
        budget: tuple[str, Hashable, int] | None = None,
    ) -> Mapping[str, Any]:
        """GET with retries; the decoded answer, checked to hold `keys`."""
        async for attempt in retrying(self._retry, self._note_retry):
            with attempt:
                payload = await self._send(token, login, path, params, report=report, budget=budget)
                return parse.expect_mapping(payload, *keys)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    @staticmethod
    def _key(token: Token, login: str | None) -> Hashable:
        """Whose quotas a request counts against: the login's, or the token's alone."""
        return ("login", login) if login else token

    def _note_retry(self, exc: MetrikaError, attempt: int, wait: float) -> None:
        self._stats.retried(exc)
        if self._on_retry is not None:
            self._on_retry(exc, attempt, wait)

    async def _send(
        self,
        token: Token,
        login: str | None,
        path: str,
        params: Mapping[str, Any],
        *,
        report: bool,
        budget: tuple[str, Hashable, int] | None = None,
    ) -> Any:
        """One request inside every limit: the user's gate, the report budget, the pace."""
        key = self._key(token, login)
        async with self._gates.hold(key):
            sent = await self._pacer.wait()
            if report and await self._spend_budget(key, budget):
                sent = await self._pacer.wait()  # we slept for the budget: book a fresh slot
            self._meter.mark()
            for listener in self._request_listeners:
                listener(token)
            started = time.monotonic()
            try:
                async with asyncio.timeout(self._deadline):
                    async with self._http.stream(
                        "GET",
                        path,
                        params=params,
                        headers={"Authorization": f"OAuth {token.reveal()}"},
                        extensions={"trace": _when_written(sent)},
                    ) as response:
                        body = await self._read_capped(response)
            except MetrikaError as exc:  # an answer past max_answer_bytes
                self._tell_answer(outcome_of(exc), started)
                raise
            except TimeoutError:
                self._tell_answer("retry", started)
                raise TransientError(f"no whole answer within {self._deadline:g}s", error_type="timeout") from None
            except httpx.TimeoutException as exc:
                self._tell_answer("retry", started)
                raise TransientError(f"no answer in time ({type(exc).__name__})", error_type="timeout") from None
            except httpx.TransportError as exc:
                self._tell_answer("retry", started)
                raise TransientError(f"connection trouble ({type(exc).__name__})", error_type="connection") from None
        log.debug(
            "GET %s -> %d in %.0f ms (token %s)",
            path,
            response.status_code,
            1000 * (time.monotonic() - started),
            token,
        )
        try:
            payload = self._decode(response, body, report=report)
        except MetrikaError as exc:
            self._tell_answer(outcome_of(exc), started)
            raise
        self._tell_answer("ok", started)
        return payload

    async def _read_capped(self, response: httpx.Response) -> bytes:
        """The body, or a BadAnswer as soon as it is past `max_answer_bytes` (read no further)."""
        cap = self._max_answer_bytes
        too_big = BadAnswer(
            f"the answer is larger than {cap:,} bytes (max_answer_bytes); not read further", status=response.status_code
        )
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap:
            raise too_big
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)

    async def _spend_budget(self, key: Hashable, budget: tuple[str, Hashable, int] | None = None) -> bool:
        """Take one report request from the user's budget; True if that meant waiting.

        ("hold", name, n): also hold n for the requests that follow (all or nothing);
        ("held", name, _): spend one held under `name`, if any."""
        how, name, follow_ups = budget or ("", None, 0)
        if how == "held" and await self._budget.spend_held(key, name):
            return False
        try:
            held = name if how == "hold" and follow_ups > 0 else None
            return await self._budget.acquire(key, hold=held, follow_ups=follow_ups) > 0
        except QuotaError as exc:
            self._stats.quota(exc)
            raise

    def _decode(self, response: httpx.Response, body: bytes, *, report: bool) -> Any:
        if response.is_success:
            payload = parse.decode_json(body)
            if payload is None:
                raise parse.MalformedAnswer(f"HTTP {response.status_code} with a body that is not JSON")
            return payload
        window = self._budget.window if report else None
        error = parse.error_from_response(
            response.status_code,
            body,
            now=self._clock.now(),
            retry_after=response.headers.get("Retry-After"),
            report_window=window,
        )
        if isinstance(error, QuotaError):
            self._stats.quota(error)
        raise error


def _when_written(sent: Callable[[], None]) -> Callable[[str, Mapping[str, Any]], Awaitable[None]]:
    """An httpx trace hook telling the pacer the moment the request's headers are written:
    where it really leaves, which the event loop may have delayed past its paced slot."""

    async def trace(event: str, info: Mapping[str, Any]) -> None:
        if event.endswith("send_request_headers.started"):
            sent()

    return trace


__all__ = ["OUTCOMES", "ClientStats", "MetrikaClient", "RetryPolicy"]
