"""The quota keepers, driven by a fake clock: no real waiting."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from metrika_tui.metrika.errors import QuotaError
from metrika_tui.metrika.limits import REPORT_BUDGET, RatePacer, ReportBudget, RequestMeter, UserGates
from metrika_tui.tokens import Token

SECRET = "y0_AgAAAAsecretsecretsecret42"


class FakeTime:
    """Monotonic seconds and a UTC wall clock that move only when told to (or slept on)."""

    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def now(self) -> dt.datetime:
        return dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=self.t)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_pacer_spaces_a_burst_evenly_at_the_rate():
    clock = FakeTime()
    pacer = RatePacer(20.0, monotonic=clock.monotonic)
    waits = [pacer.reserve() for _ in range(40)]
    assert waits[0] == 0
    assert waits == pytest.approx([i * 0.05 for i in range(40)])
    clock.t = 10.0  # after a quiet spell the next request goes at once: no debt carried over
    assert pacer.reserve() == 0


def test_pacer_never_lets_more_than_rate_into_a_rolling_second():
    clock = FakeTime()
    pacer = RatePacer(30.0, monotonic=clock.monotonic)
    send_times = []
    for step in range(200):
        clock.t = step * 0.004  # callers arrive in a stampede, 250 a second
        send_times.append(clock.t + pacer.reserve())
    for start in send_times:
        assert sum(start <= t < start + 1.0 for t in send_times) <= 30


class AdvancingTime(FakeTime):
    """Time that moves by sleeping."""

    async def sleep(self, seconds: float) -> None:
        self.t += seconds


async def run_held_back_schedule(report: bool) -> tuple[list[float], float]:
    """600 requests through a pacer of 30/s + 50 ms. In every hundred, eight requests are held
    back after their slot (their connection is busy, the event loop has other work) and leave
    together with the ninth; the rest leave on time. Returns when each left, and the time it
    all took. `report`: the pacer is told when each really left."""
    time_ = AdvancingTime()
    pacer = RatePacer(30.0, margin=0.05, monotonic=time_.monotonic, sleep=time_.sleep)
    left, held = [], []
    for i in range(600):
        sent = await pacer.wait()
        if i % 100 < 8:
            held.append(sent)
            continue
        for each in held + [sent]:
            if report:
                each()
            left.append(time_.t)
        held.clear()
    return sorted(left), time_.t


def tightest(left: list[float], n: int = 30) -> float:
    """The shortest time in which n + 1 requests left."""
    return min(b - a for a, b in zip(left, left[n:]))


async def test_pacer_counts_requests_where_they_really_leave():
    """Told when requests really leave, the pacer never lets 31 leave within 1 s + margin, and
    keeps the rate; counting them where they were booked, eight held back and the punctual
    ones after them put 31 into less than a second."""
    left, took = await run_held_back_schedule(report=True)
    assert len(left) == 600 and tightest(left) >= 1.05 - 1e-9
    assert 600 / took > 26  # 30 per 1.05 s is 28.6 a second, less what the bursts cost
    booked_only, _ = await run_held_back_schedule(report=False)
    assert tightest(booked_only) < 1.0


async def test_token_gate_holds_at_most_the_limit_per_token_and_tokens_are_independent():
    gates = UserGates(3)
    a, b = Token(SECRET), Token(SECRET + "b")
    peak = {a: 0, b: 0}
    release = asyncio.Event()

    async def one(token: Token) -> None:
        async with gates.hold(token):
            peak[token] = max(peak[token], gates.in_flight(token))
            await release.wait()

    tasks = [asyncio.create_task(one(t)) for t in (a, b) for _ in range(5)]
    await asyncio.sleep(0)
    assert gates.in_flight(a) == 3 and gates.in_flight(b) == 3 and gates.in_flight() == 6
    release.set()
    await asyncio.gather(*tasks)
    assert peak == {a: 3, b: 3} and gates.in_flight() == 0


async def test_budget_waits_when_the_slot_is_near_and_defers_when_it_is_far():
    clock = FakeTime()
    budget = ReportBudget(
        3, dt.timedelta(seconds=300), max_wait=5, margin=dt.timedelta(0), clock=clock, sleep=clock.sleep
    )
    token = Token(SECRET)
    for _ in range(3):
        assert await budget.acquire(token) == 0
    assert budget.headroom(token) == 0.0

    clock.t = 10.0
    with pytest.raises(QuotaError) as caught:
        await budget.acquire(token)
    error = caught.value
    assert error.error_type == REPORT_BUDGET and not error.short and error.status is None
    assert error.retry_at == clock.now() + dt.timedelta(seconds=290)
    assert SECRET not in str(error) and SECRET not in repr(error)

    clock.t = 297.0  # the oldest grant frees in 3 s: short, so wait for it
    assert await budget.acquire(token) == pytest.approx(3.0)
    assert clock.slept == [pytest.approx(3.0)]


def test_budget_is_a_sliding_window_per_token():
    clock = FakeTime()
    budget = ReportBudget(2, dt.timedelta(seconds=60), max_wait=0, margin=dt.timedelta(seconds=1), clock=clock)
    a, b = Token(SECRET), Token(SECRET + "b")
    budget.reserve(a)
    clock.t = 30
    budget.reserve(a)
    assert budget.reserve(b) == 0  # another token has its own budget
    clock.t = 60.5  # inside the margin: still spent
    with pytest.raises(QuotaError):
        budget.reserve(a)
    clock.t = 61.0  # the first grant left the window (60 s + 1 s margin)
    assert budget.headroom(a) == 0.5
    assert budget.reserve(a) == 0


def test_budget_holds_a_slot_for_the_report_that_follows():
    """A job's first report holds a slot for its second: a job starts only with both in hand, and
    the second never meets a spent budget (its answer would be thrown away with the job)."""
    clock = FakeTime()
    budget = ReportBudget(3, dt.timedelta(seconds=60), max_wait=0, margin=dt.timedelta(0), clock=clock)
    token = Token(SECRET)
    assert budget.reserve(token, hold=101) == 0  # job A: its daily report, and one held
    assert budget.reserve(token, hold=101) == 0 and budget.headroom(token) == 0.0  # a retry holds no second
    with pytest.raises(QuotaError):
        budget.reserve(token, hold=102)  # job B would get its first report, not its second: not now
    clock.t = 20
    assert budget.take_held(token, 101)  # job A's monthly users: already paid for
    assert not budget.take_held(token, 101)  # once
    clock.t = 60  # the two grants of t=0 leave; the held one counts from when it was spent (t=20)
    assert budget.headroom(token) == pytest.approx(2 / 3)
    assert budget.reserve(token, hold=102) == 0 and budget.headroom(token) == 0.0
    clock.t = 80  # job B's second report; A's held grant (spent at 20) has left the window
    assert budget.take_held(token, 102) and budget.headroom(token) == pytest.approx(1 / 3)


def test_meter_reports_the_rate_over_its_span():
    clock = FakeTime()
    meter = RequestMeter(10.0, monotonic=clock.monotonic)
    for step in range(50):
        clock.t = step * 0.1
        meter.mark()
    assert meter.total == 50 and meter.per_second() == 5.0
    clock.t = 14.45  # only the requests of the last 10 s count
    assert meter.per_second() == pytest.approx(0.5)
