"""Staying under Metrika's quotas by ourselves, instead of learning them from 429s.

Three limits, each its own small object:
- `RatePacer`: requests a second, spaced evenly (the server counts per rolling second, so
  a burst of 30 at once and 30 more a second later can trip it), and counted again as they
  really leave (a late request must not crowd the next one). In memory for one process;
  `host_pace.HostPacer` shares the same book with every process on the host.
- `UserGates`: requests in flight per Yandex user (a semaphore each).
- `ReportBudget`: report requests per user per window, a sliding window of grants.

A "user" is the quota key the caller gives: the Yandex login, which Metrika counts its
per-user quotas by (every token of a login shares them), or a token alone when no login is known.

Waiting is by reservation: a caller books the next free slot and sleeps until then, so
concurrent callers never race for the same slot and no loop polls the clock.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterator
from contextlib import asynccontextmanager
from functools import partial

from metrika_tui.clock import Clock, SystemClock
from metrika_tui.metrika.errors import QuotaError

Sleep = Callable[[float], Awaitable[None]]

#: error_type of the QuotaError raised when our own report budget for a token is spent
REPORT_BUDGET = "report_budget"


class PaceBook:
    """What a pacer has booked: the next free slot, and the sends of the last span, each by id
    at the moment it was booked for, moved to when it really left once that is known.

    Plain data, so the same bookkeeping serves one process (`RatePacer` keeps it in memory)
    and every process on the host (`host_pace.HostPacer` keeps it in a file). The sends are
    two lists kept in the order of their moments, so every step is a bisection or a slice.
    """

    __slots__ = ("ids", "moments", "next_free")

    def __init__(
        self, next_free: float = float("-inf"), moments: list[float] | None = None, ids: list[int] | None = None
    ) -> None:
        self.next_free = next_free
        self.moments = moments if moments is not None else []  # ascending
        self.ids = ids if ids is not None else []  # of the send at the same place

    def book_slot(self, now: float, interval: float) -> float:
        """Book the next evenly spaced slot; seconds until it (0 when free now)."""
        slot = max(now, self.next_free)
        self.next_free = slot + interval
        return slot - now

    def book_send(self, ident: int, now: float, span: float, limit: int) -> float:
        """Book send `ident` at the first moment from `now` that puts no more than `limit` sends
        in any `span`; seconds until it. Sends booked later than now count as well (another
        caller waits for room): with every send after `moment - span` counted, no window
        holding `moment` can hold more, whichever way it lies."""
        self.forget(now - span)
        moments = self.moments
        moment = now
        if len(moments) >= limit:  # the send `limit` places back must age out of the span first
            older = len(moments) - limit  # older ones cannot matter
            del moments[:older], self.ids[:older]
            moment = max(now, moments[0] + span)
        self._put(ident, moment)
        return moment - now

    def mark_sent(self, ident: int, moment: float) -> None:
        """Send `ident` really left at `moment`: count it from then (never earlier than booked)."""
        try:
            at = self.ids.index(ident)
        except ValueError:  # already aged out of the book: it counts from now on
            self._put(ident, moment)
            return
        if self.moments[at] < moment:
            del self.moments[at], self.ids[at]
            self._put(ident, moment)

    def forget(self, horizon: float) -> None:
        """Drop the sends at or before `horizon`."""
        old = bisect.bisect_right(self.moments, horizon)
        del self.moments[:old], self.ids[:old]

    def _put(self, ident: int, moment: float) -> None:
        at = bisect.bisect_right(self.moments, moment)
        self.moments.insert(at, moment)
        self.ids.insert(at, ident)


class RatePacer:
    """At most `rate` requests a second for everyone sharing this pacer, counted as they leave.

    Two guards. Slots are booked evenly spaced (`interval` apart), so the server never sees
    a burst. But a request leaves a little after its slot (the event loop has other work,
    the HTTP client must take a connection), and a late one followed by a punctual one
    leave closer together than booked: the server, counting per rolling second, would see
    one too many. So the moments requests really leave are kept too (the caller reports
    each with the callable `wait()` returns), and no more than `rate` may leave within any
    `1 s + margin`. The margin absorbs what is left (the wire, the server's own pauses)
    and costs `margin` of each second, not a fixed share of the rate.

    This one paces one process; `host_pace.HostPacer` keeps the same book for every process
    on the host.
    """

    def __init__(
        self,
        rate: float,
        *,
        margin: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be above zero")
        if margin < 0:
            raise ValueError("the margin cannot be negative")
        self.span = 1.0 + margin  # the rolling window sends are counted in
        self.limit = max(1, int(rate))  # sends in any one span
        self.interval = (self.span + 1e-9) / rate  # a hair over: float sums never fit rate+1 in a span
        self._monotonic = monotonic
        self._sleep = sleep
        self._book = PaceBook()
        self._ids = itertools.count()

    def reserve(self) -> float:
        """Book the next slot; return how long to wait for it (0 when free now)."""
        return self._book.book_slot(self._monotonic(), self.interval)

    async def wait(self) -> Callable[[], None]:
        """Wait for a booked slot and for room in the window; send at once after this.

        Returns `sent`: call it when the request really leaves (its first byte is
        written), so later requests are counted against that moment, not this one."""
        delay = await self._change(lambda book, now: book.book_slot(now, self.interval))
        if delay > 0:
            await self._sleep(delay)
        ident = self._new_id()
        delay = await self._change(lambda book, now: book.book_send(ident, now, self.span, self.limit))
        if delay > 0:
            await self._sleep(delay)
        return partial(self._mark_sent, ident)

    def close(self) -> None:
        """Let go of what the pacer holds (nothing, in memory)."""

    async def _change(self, change: Callable[[PaceBook, float], float]) -> float:
        """Apply `change(book, now)`; in memory no lock is needed: nothing awaits inside it."""
        return change(self._book, self._monotonic())

    def _new_id(self) -> int:
        return next(self._ids)

    def _mark_sent(self, ident: int) -> None:
        self._book.mark_sent(ident, self._monotonic())


class UserGates:
    """A semaphore of `limit` per Yandex user (the quota key: a login, or a token alone);
    counts what is in flight for the stats."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("at least one request per user must be allowed")
        self.limit = limit
        self._gates: dict[Hashable, asyncio.Semaphore] = {}
        self._in_flight: dict[Hashable, int] = {}

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        gate = self._gates.setdefault(key, asyncio.Semaphore(self.limit))
        async with gate:
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
            try:
                yield
            finally:
                self._in_flight[key] -= 1

    def in_flight(self, key: Hashable | None = None) -> int:
        if key is not None:
            return self._in_flight.get(key, 0)
        return sum(self._in_flight.values())


class ReportBudget:
    """At most `budget` report requests per user in any `window` (sliding), with a margin.

    The user is the quota key: Metrika counts the budget per Yandex login, shared by all of
    its tokens. When a user's budget is spent, a caller whose slot frees within `max_wait`
    waits for it; a longer wait raises `QuotaError(retry_at=...)` so the engine can defer the
    job and serve other users meanwhile. `margin` widens the window a little so the server,
    which sees a request a little after we book it (pacing, network), never counts one too many.

    A job may read several reports (one per month its window touches). Booked one by one,
    the budget could run out between them: the answers already read are thrown away with the
    deferred job, and read again later. So the first may `hold` slots for the ones that
    follow, all or nothing, which `take_held` spends.
    """

    def __init__(
        self,
        budget: int,
        window: dt.timedelta,
        *,
        max_wait: float = 3.0,
        margin: dt.timedelta = dt.timedelta(seconds=1),
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if budget < 1:
            raise ValueError("the report budget must allow at least one request")
        self.budget = budget
        self.window = window
        self.max_wait = max_wait
        self.margin = margin
        self._clock = clock or SystemClock()
        self._sleep = sleep
        self._grants: dict[Hashable, list[list[dt.datetime]]] = {}  # [when] of each grant in the window
        self._held: dict[Hashable, dict[Hashable, list[list[dt.datetime]]]] = {}  # grants kept for follow-ups

    def _live(self, key: Hashable, now: dt.datetime) -> list[list[dt.datetime]]:
        horizon = now - self.window - self.margin
        self._grants[key] = grants = [g for g in self._grants.get(key, ()) if g[0] > horizon]
        held = self._held.get(key)
        if held:
            for name in list(held):
                held[name] = [g for g in held[name] if g[0] > horizon]
                if not held[name]:
                    del held[name]
        return grants

    def reserve(self, key: Hashable, *, hold: Hashable | None = None, follow_ups: int = 1) -> float:
        """Book a report request for `key`: seconds to wait, or QuotaError if too long.

        `hold`: book `follow_ups` more, kept under that name for the requests that follow
        (unless some are held under it already: a retry holds none); all or nothing, so a
        job never starts without every report it needs."""
        now = self._clock.now()
        grants = self._live(key, now)
        holding = 0
        if hold is not None and hold not in self._held.get(key, {}):
            holding = max(0, min(follow_ups, self.budget - 1))
        need = 1 + holding
        excess = len(grants) + need - self.budget
        wait = 0.0
        moment = now
        if excess > 0:
            oldest = sorted(grants, key=lambda g: g[0])[:excess]
            free_at = oldest[-1][0] + self.window + self.margin
            wait = (free_at - now).total_seconds()
            if wait > self.max_wait:
                raise QuotaError(
                    f"report budget of {self.budget} requests per "
                    f"{self.window.total_seconds():g} s is spent for this user",
                    status=None,
                    error_type=REPORT_BUDGET,
                    retry_after=wait,
                    retry_at=free_at,
                )
            for g in oldest:  # they leave the window by the time we go
                grants.remove(g)
            moment = free_at
        booked = [[moment] for _ in range(need)]
        grants.extend(booked)
        if holding:
            self._held.setdefault(key, {})[hold] = booked[1:]
        return wait

    def take_held(self, key: Hashable, name: Hashable) -> bool:
        """Spend a slot held under `name` (True), counted from now; False if there is none."""
        now = self._clock.now()
        live = self._live(key, now)
        held = self._held.get(key, {})
        slots = held.get(name)
        while slots:
            grant = slots.pop(0)
            if not slots:
                del held[name]
            if any(g is grant for g in live):
                grant[0] = max(grant[0], now)  # the server counts it from when it really goes
                return True
        return False

    async def spend_held(self, key: Hashable, name: Hashable) -> bool:
        """`take_held`, for callers that may be given a shared book (`shared_budget`)."""
        return self.take_held(key, name)

    def release_held(self, key: Hashable, name: Hashable) -> None:
        """Forget the slots still held under `name` (the job ended without them): they stay
        counted until they leave the window, as the server would never know of them anyway."""
        self._held.get(key, {}).pop(name, None)

    async def acquire(self, key: Hashable, *, hold: Hashable | None = None, follow_ups: int = 1) -> float:
        """Take a report request for `key`, waiting if that is short; the seconds waited."""
        wait = self.reserve(key, hold=hold, follow_ups=follow_ups)
        if wait > 0:
            await self._sleep(wait)
        return wait

    def headroom(self, key: Hashable) -> float:
        """Share of the budget still free for `key` right now, 0..1."""
        used = len(self._live(key, self._clock.now()))
        return max(0.0, 1.0 - used / self.budget)

    def keys(self) -> Iterator[Hashable]:
        return iter(list(self._grants))


class RequestMeter:
    """Counts requests sent, for the console header: rate over the last `span` seconds."""

    def __init__(self, span: float = 10.0, *, monotonic: Callable[[], float] = time.monotonic):
        self.span = span
        self._monotonic = monotonic
        self._sent: deque[float] = deque()
        self.total = 0

    def mark(self) -> None:
        self.total += 1
        self._sent.append(self._monotonic())
        self._trim()

    def _trim(self) -> None:
        horizon = self._monotonic() - self.span
        while self._sent and self._sent[0] < horizon:
            self._sent.popleft()

    def per_second(self) -> float:
        self._trim()
        return len(self._sent) / self.span
