"""A pass whose quota is spent: `run_until_idle` waits out a deferral that ends within its
`max_wait` (telling `on_wait` what for, once per wait) and returns at once on one beyond it,
keeping what was synced. The clock is the rig's: a wait is walked through by moving it to
the moment the engine says it waits for, so a 5-minute report window costs no time."""

from __future__ import annotations

import datetime as dt
import time

from metrika_tui.engine.waits import PassWait, pass_max_wait
from metrika_tui.simulator import QuotaConfig, World
from metrika_tui.timefmt import duration
from metrika_tui.tokens import Token

from .helpers import NOW, Rig, add_accounts, rig

#: the report budget, scaled down: a job reads 2 reports, so 2 jobs per token per window
BUDGET, WINDOW = 4, 300
#: the client's deferral ends a second after the window (its margin)
RESET = dt.timedelta(seconds=WINDOW + 1)


def quotas(**changes) -> QuotaConfig:
    return QuotaConfig(per_ip_per_second=None, reports_per_window=BUDGET, report_window_seconds=WINDOW, **changes)


def waited_out(r: Rig, told: list[PassWait]):
    """`on_wait`: note the wait and move the clock to its end (how a frozen clock waits)."""

    def on_wait(wait: PassWait) -> None:
        told.append(wait)
        if not wait.beyond:
            r.set_clock(wait.until)

    return on_wait


def logins(world: World) -> list[str]:
    return [a.login for a in world.accounts]


async def test_a_spent_report_budget_is_waited_out_within_the_bound_and_nothing_is_read_twice(tmp_path):
    world = World.generate(seed=61, accounts=2, counters_per_account=5)  # 10 reports a token: 3 windows
    counters = sorted(c for a in world.accounts for c in a.counter_ids)
    async with rig(tmp_path, world, quotas=quotas()) as r:
        engine = await r.engine(report_budget=BUDGET, report_window_seconds=WINDOW)
        await add_accounts(engine, world)
        await engine.plan()

        # the old bound, still run_until_idle's default: a reset 5 minutes off ends the pass
        early = [o for o in await engine.run_until_idle() if not o.ok]
        assert len(early) == 6 and all(o.error.startswith("still queued: quota report_budget") for o in early)
        assert r.clock.now() == NOW

        told: list[PassWait] = []
        bound = pass_max_wait(engine.settings)
        outcomes = await engine.run_until_idle(max_wait=bound, on_wait=waited_out(r, told))

        assert bound == dt.timedelta(minutes=6)
        assert [(o.counter_id, o.ok, o.error) for o in outcomes] == [(c, True, None) for c in counters]
        # two more windows, each told once, with its reason
        a, b = logins(world)
        assert [(w.seconds, w.queued, w.beyond) for w in told] == [
            (RESET.total_seconds(), 6, False),
            (RESET.total_seconds(), 2, False),
        ]
        assert {w.reasons for w in told} == {(f"report budget of accounts {a} and {b} spent (4 per 5 min)",)}
        assert r.clock.now() == NOW + 2 * RESET
        # no counter read twice: two reports each, none refused, one job each that never retried
        assert r.sim.stats.by_endpoint["data"] + r.sim.stats.by_endpoint["bytime"] == 2 * len(counters)
        assert not r.sim.stats.quota_rejections
        for cid in counters:
            assert await engine.store.raw_answer_count(cid) == 2
            assert [(j.status, j.attempts) for j in await engine.store.job_history(cid)] == [("done", 0)]


async def test_a_deferral_beyond_the_bound_ends_the_pass_at_once_keeping_what_was_synced(tmp_path):
    world = World.generate(seed=62, accounts=2, counters_per_account=3)
    a, b = logins(world)
    # b's token has 2 requests left today: one counter's reports; a's has plenty
    async with rig(tmp_path, world, quotas=quotas(per_login_per_day=7)) as r:
        engine = await r.engine(report_budget=BUDGET, report_window_seconds=WINDOW)
        await add_accounts(engine, world)  # one request each
        for _ in range(4):  # someone else used b's token today
            await engine.client.list_counters(Token(world.tokens[1]))
        await engine.plan()

        told: list[PassWait] = []
        started = time.monotonic()
        outcomes = {
            o.counter_id: o
            for o in await engine.run_until_idle(max_wait=pass_max_wait(engine.settings), on_wait=waited_out(r, told))
        }
        took = time.monotonic() - started

        # a's report window was waited out; b's daily quota resets at midnight, 12 hours off
        waited, stopped = told
        daily = "Daily quota of 7 requests per user is exceeded; it resets at 00:00 UTC"
        assert not waited.beyond and waited.seconds == RESET.total_seconds() and waited.queued == 3
        # each account named once a line: b, named under the sooner cause, is counted under the later one
        assert waited.reasons == (
            f"report budget of accounts {a} and {b} spent (4 per 5 min)",
            f"quota of 1 account named above: {daily}",
        )
        assert stopped.beyond and stopped.queued == 2 and stopped.reasons == (f"quota of account {b}: {daily}",)
        assert stopped.until == dt.datetime(2026, 3, 11, tzinfo=dt.UTC) and duration(stopped.seconds) == "11h 54m"
        assert r.clock.now() == NOW + RESET and took < 5  # the clock went no further; nothing hung

        first_of_b, *rest_of_b = world.accounts[1].counter_ids
        for cid in (*world.accounts[0].counter_ids, first_of_b):
            assert outcomes[cid].ok
            assert await engine.store.raw_answer_count(cid) == 2
        for cid in rest_of_b:
            assert outcomes[cid].error == "still queued: quota quota_requests_by_uid: waiting until 00:00:00 UTC"
            (row,) = await engine.store.counter_rows(cid)
            assert row.job_status == "queued" and row.job_attempts == 0 and row.last_error is None


def test_durations_are_told_to_the_second_under_an_hour():
    assert [duration(s) for s in (0, 0.4, 12, 60, 252, 3600, 3660, 43_140)] == [
        "0s",
        "0s",
        "12s",
        "1m",
        "4m 12s",
        "1h",
        "1h 1m",
        "11h 59m",
    ]
