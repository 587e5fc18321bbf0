"""Freshness under quota, on the rig's frozen clock moved by hand: the due rule keeps the
schedule whatever a pass takes, each login's daily quota is spread over its day (shared by
its tokens, with a reserve for force-syncs), and quota answers of unknown reset end a pass."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import defaultdict

import pytest

from metrika_tui.engine.planner import OVERDUE_GRACE
from metrika_tui.engine.scheduler import current_slot
from metrika_tui.engine.status import CounterState
from metrika_tui.engine.waits import PassWait, pass_max_wait
from metrika_tui.events import Kind, Level
from metrika_tui.simulator import LatencyConfig, QuotaConfig, World
from metrika_tui.tokens import Token

from .helpers import NO_IP_QUOTA, NOW, Rig, add_accounts, assert_store_matches_world, record_events, rig

HOUR = dt.timedelta(hours=1)


async def drain(r: Rig, engine) -> None:
    """Work every job that may run now, to the end (none runnable, none running)."""
    await engine.start_workers()
    engine.pool.wake()
    for _ in range(20_000):
        now = r.clock.now()
        # nothing claimable, THEN nothing running: a job claimed between the two reads would
        # otherwise be missed (on a frozen clock nothing becomes claimable but by a worker)
        if not await engine.store.has_claimable(now) and not await engine.store.running_per_account(now):
            return
        await asyncio.sleep(0.002)
    raise AssertionError("the queue never drained")


async def work_until(r: Rig, engine, end: dt.datetime) -> None:
    """Run what is due before `end`, moving the clock to each waiting job's time (a slot's
    spread refreshes, a backoff), then to `end`."""
    while True:
        await drain(r, engine)
        soonest = await engine.store.next_run_after()
        if soonest is None or soonest >= end:
            break
        r.set_clock(max(soonest, r.clock.now()))
    r.set_clock(end)


def counters_of(world: World) -> list[int]:
    return sorted(c for a in world.accounts for c in a.counter_ids)


@pytest.mark.parametrize("share", [0.01, 0.5, 0.95])
async def test_a_pass_of_any_length_leaves_every_counter_due_at_the_next_slot(tmp_path, share):
    """The bug this replaces: a pass ends a little after its slot, so at the next slot nothing
    was 'older than the interval' and every counter was synced every second slot."""
    world = World.generate(seed=71, accounts=2, counters_per_account=3)
    everything = counters_of(world)
    async with rig(tmp_path, world) as r:
        engine = await r.engine()
        await add_accounts(engine, world)
        first = current_slot(NOW, engine.settings)
        for k in range(4):
            slot = first + k * HOUR
            r.set_clock(slot)
            plan = await engine.plan(trigger="schedule", slot=slot)
            assert sorted(plan.queued) == everything, (share, k)
            r.set_clock(slot + share * HOUR)  # the pass takes this share of the interval
            assert all(o.ok for o in await engine.run_until_idle())
            r.set_clock(slot + HOUR - dt.timedelta(seconds=1))  # its next slot still ahead: never OVERDUE
            snapshot = await engine.snapshot()
            assert {c.state for c in snapshot.counters} == {CounterState.OK}
            assert {c.next_due_at for c in snapshot.counters} == {slot + HOUR}
            assert snapshot.summary.in_sync == len(everything)
        # a slot that passes with nothing planned: OVERDUE once its tick is late by the grace
        r.set_clock(first + 4 * HOUR + OVERDUE_GRACE - dt.timedelta(seconds=1))
        assert {c.state for c in (await engine.snapshot()).counters} == {CounterState.OK}
        r.set_clock(first + 4 * HOUR + OVERDUE_GRACE)
        assert {c.state for c in (await engine.snapshot()).counters} == {CounterState.OVERDUE}
        for cid in everything:  # exactly one sync per counter per slot
            assert [j.trigger for j in await engine.store.job_history(cid)] == ["schedule"] * 4


async def test_a_counter_force_synced_moments_before_a_slot_is_not_read_again(tmp_path):
    world = World.generate(seed=72, accounts=1, counters_per_account=3)
    forced, *others = counters_of(world)
    async with rig(tmp_path, world) as r:
        engine = await r.engine()
        await add_accounts(engine, world)
        first = current_slot(NOW, engine.settings)
        r.set_clock(first)
        await engine.plan(trigger="schedule", slot=first)
        await work_until(r, engine, first + 50 * dt.timedelta(minutes=1))
        await engine.force_sync(forced)  # ten minutes before the next slot
        await work_until(r, engine, first + HOUR)

        plan = await engine.plan(trigger="schedule", slot=first + HOUR)

        assert sorted(plan.queued) == others and plan.skipped_recent == [forced]
        (status,) = [c for c in (await engine.snapshot()).counters if c.counter_id == forced]
        assert status.state is CounterState.OK and status.next_due_at == first + 2 * HOUR
        await work_until(r, engine, first + 2 * HOUR)
        assert forced in (await engine.plan(trigger="schedule", slot=first + 2 * HOUR)).queued


async def sync_everything_before(r: Rig, engine, moment: dt.datetime, every: dt.timedelta | None = None) -> None:
    """Every counter's first sync (its backfill) from `moment` on: at once, or one `every`
    apart (the ages of a login synced evenly: its steady state)."""
    ids = sorted(row.id for row in await engine.store.counter_rows())
    for i, cid in enumerate(ids if every else [None]):
        r.set_clock(moment + (every or dt.timedelta()) * i)
        await engine.plan(force=True, trigger="force", counter_id=cid)
        await work_until(r, engine, r.clock.now() + dt.timedelta(seconds=1))


async def test_a_login_at_one_and_a_half_times_its_quota_is_synced_evenly_all_day(tmp_path):
    """6 counters hourly need 144 requests a day; the login's quota is 100 (95 without the
    reserve): each counter every 6 x 24 h / 95 = 91 min, evenly, and the quota never runs out."""
    world = World.generate(seed=73, accounts=1, counters_per_account=6)
    everything = counters_of(world)
    day = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    floor = dt.timedelta(days=1) * len(everything) / 95
    async with rig(tmp_path, world, quotas=QuotaConfig(per_ip_per_second=None, per_login_per_day=100)) as r:
        engine = await r.engine(requests_per_day=100)
        events = record_events(engine)
        start = day - floor
        r.set_clock(start)
        await add_accounts(engine, world)
        await sync_everything_before(r, engine, start, every=floor / len(everything))
        synced: dict[int, list[dt.datetime]] = defaultdict(list)
        engine.bus.subscribe(lambda e: e.kind is Kind.DONE and synced[e.counter_id].append(r.clock.now()))

        projected = {}
        for hour in range(24):
            slot = day + hour * HOUR
            r.set_clock(slot - dt.timedelta(seconds=1))
            snapshot = await engine.snapshot()  # no counter is OVERDUE on a stretched cadence kept
            assert not hour or {c.state for c in snapshot.counters} <= {CounterState.OK, CounterState.QUEUED}, hour
            if hour == 12:  # when each counter will really be synced next, as the console shows it
                projected = {c.counter_id: c.next_due_at for c in snapshot.counters}
            r.set_clock(slot)
            await engine.plan(trigger="schedule", slot=slot)
            await work_until(r, engine, slot + HOUR)

        assert not r.sim.stats.quota_rejections  # no daily-quota answer, no 429 at all
        login = world.accounts[0].login.lower()
        (pace,) = (await engine.paces(day + dt.timedelta(hours=23, minutes=59))).values()
        assert 90 <= pace.used <= 95  # the day's budget spent, the reserve kept
        for i, cid in enumerate(everything):
            moments = [start + floor / len(everything) * i, *synced[cid], day + 24 * HOUR]
            gaps = [b - a for a, b in zip(moments, moments[1:])]
            assert len(synced[cid]) >= 14, (cid, len(synced[cid]))
            assert max(gaps) <= 1.15 * floor, (cid, [int(g.total_seconds() // 60) for g in gaps], floor)
        noon = day + 12 * HOUR - dt.timedelta(seconds=1)
        for cid, when in projected.items():  # the projection along the plan held, to a step of its pace
            actual = min(t for t in synced[cid] if t > noon)
            assert abs(actual - when) <= floor / len(everything), (cid, actual, when)
        for hour in range(24):  # no hour without a sync while the login had budget left
            assert any(day + hour * HOUR <= t < day + (hour + 1) * HOUR for ts in synced.values() for t in ts), hour
        stretches = [e.message for e in events if e.kind is Kind.WARNING and "quota allows" in e.message]
        assert stretches[0] == (
            f"login {login}: 6 counters need 144 requests a day at every 60 min;"
            f" its quota allows 95: each counter every 1h 30m"
        )
        assert len(stretches) <= 3  # told when it changes, not at every slot


async def test_two_tokens_of_one_login_share_its_budget_and_its_three_in_flight(tmp_path):
    world = World.generate(seed=74, accounts=2, counters_per_account=4, logins=1)
    login = world.accounts[0].login
    latency = LatencyConfig(kind="fixed", median_ms=5.0)
    async with rig(tmp_path, world, latency=latency) as r:
        engine = await r.engine(requests_per_day=40, workers=6)
        await add_accounts(engine, world)
        first = current_slot(NOW, engine.settings)
        for hour in range(3):
            r.set_clock(first + hour * HOUR)
            await engine.plan(trigger="schedule", slot=first + hour * HOUR)
            await work_until(r, engine, first + (hour + 1) * HOUR)
        await engine.usage.flush()

        days = await engine.store.login_days(r.clock.now())
        assert list(days) == [login.lower()]  # one login, one budget, for both accounts
        assert days[login.lower()].used == r.sim.quotas.used_today(login) == r.sim.stats.requests
        assert days[login.lower()].counters == 8
        assert r.sim.stats.max_in_flight <= 3 and not r.sim.stats.quota_rejections


async def test_a_force_sync_runs_from_the_reserve_and_sync_force_never_spends_it(tmp_path):
    world = World.generate(seed=75, accounts=1, counters_per_account=6)
    token = Token(world.tokens[0])
    async with rig(tmp_path, world) as r:
        engine = await r.engine(requests_per_day=30, reserve_percent=10)  # 27 to plan, 3 kept
        await add_accounts(engine, world)  # 1 request
        await sync_everything_before(r, engine, NOW)  # 6 first syncs of 2 requests (3 months each)
        for _ in range(10):  # another program of the same login
            await engine.client.list_counters(token)
        r.set_clock(NOW + HOUR)
        await engine.usage.flush()
        (pace,) = (await engine.paces()).values()
        assert pace.used == 1 + 12 + 10 and pace.left(r.clock.now()) == 4

        forced = await engine.plan(force=True, trigger="sync")  # `sync --force`: what fits, no reserve
        assert len(forced.queued) == 4 and len(forced.skipped_budget) == 2  # a refresh is one request
        await work_until(r, engine, NOW + HOUR + dt.timedelta(minutes=5))
        r.set_clock(NOW + 2 * HOUR)
        assert not (await engine.plan(trigger="schedule", slot=NOW + 2 * HOUR)).queued

        one = forced.skipped_budget[0]
        r.set_clock(NOW + 2 * HOUR)
        assert (await engine.force_sync(one)).queued == [one]  # by hand: from the reserve
        await work_until(r, engine, NOW + 2 * HOUR + dt.timedelta(minutes=5))
        (row,) = await engine.store.counter_rows(one)
        assert row.last_fetched_at == NOW + 2 * HOUR and not r.sim.stats.quota_rejections
        await engine.usage.flush()
        (pace,) = (await engine.paces()).values()
        assert pace.used == 27 + 1 and pace.used <= pace.per_day


def quota_of_unknown_reset(app):
    """Every report request answered 429 with a quota nobody says the reset of."""
    body = json.dumps(
        {
            "errors": [{"error_type": "quota_delegate_requests", "message": "Delegate quota exceeded"}],
            "code": 429,
            "message": "Delegate quota exceeded",
        }
    ).encode()

    async def wrapped(scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith("/stat/"):
            await send(
                {"type": "http.response.start", "status": 429, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return wrapped


async def test_quota_answers_of_unknown_reset_back_off_and_end_the_pass(tmp_path):
    world = World.generate(seed=76, accounts=1, counters_per_account=2)
    async with rig(tmp_path, world) as r:
        engine = await r.engine(app=quota_of_unknown_reset(r.sim.app))
        await add_accounts(engine, world)
        await engine.plan()
        told: list[PassWait] = []

        def on_wait(wait: PassWait) -> None:
            told.append(wait)
            if not wait.beyond:
                r.set_clock(wait.until)

        outcomes = await asyncio.wait_for(
            engine.run_until_idle(max_wait=pass_max_wait(engine.settings), on_wait=on_wait), 20
        )

        # 1, 2 and 4 minutes were waited out; 8 is beyond the pass's 6 minutes: it ends
        assert [round(w.seconds) for w in told] == [60, 120, 240, 480] and told[-1].beyond
        assert all(not o.ok and o.error.startswith("still queued: quota quota_delegate_requests") for o in outcomes)


async def test_quota_answers_of_unknown_reset_are_capped_then_the_job_fails_with_the_apis_words(tmp_path):
    world = World.generate(seed=77, accounts=1, counters_per_account=1)
    async with rig(tmp_path, world) as r:
        engine = await r.engine(app=quota_of_unknown_reset(r.sim.app), max_deferrals=4)
        await add_accounts(engine, world)
        await engine.plan()

        def on_wait(wait: PassWait) -> None:
            r.set_clock(wait.until)

        (outcome,) = await asyncio.wait_for(engine.run_until_idle(max_wait=dt.timedelta(days=2), on_wait=on_wait), 20)

        assert not outcome.ok
        assert outcome.error == "gave up after 4 quota answers of unknown reset: Delegate quota exceeded"
        assert r.clock.now() == NOW + dt.timedelta(minutes=1 + 2 + 4 + 8)


async def test_a_daily_quota_answer_marks_the_login_spent_until_the_reset_and_planning_adapts(tmp_path):
    """Another program uses the same login: the server's quota runs out long before ours."""
    world = World.generate(seed=78, accounts=1, counters_per_account=6)
    async with rig(tmp_path, world, quotas=QuotaConfig(per_ip_per_second=None, per_login_per_day=9)) as r:
        engine = await r.engine()
        events = record_events(engine)
        await add_accounts(engine, world)  # 1 request; 8 left: four first syncs of 2
        first = current_slot(NOW, engine.settings)
        await engine.plan(trigger="schedule", slot=first)
        await work_until(r, engine, first + dt.timedelta(minutes=5))

        midnight = dt.datetime(2026, 3, 11, tzinfo=dt.UTC)
        spent = [e for e in events if e.kind is Kind.WARNING and "daily quota of login" in e.message]
        assert len(spent) == 1 and spent[0].level is Level.WARNING
        (pace,) = (await engine.paces()).values()
        assert pace.spent_until == midnight and pace.left(r.clock.now()) == 0
        waiting = [row for row in await engine.store.counter_rows() if row.job_status == "queued"]
        assert len(waiting) == 2  # the rest wait for the reset: none asked again today
        rejected = r.sim.stats.quota_rejections["quota_requests_by_uid"]
        assert 1 <= rejected <= engine.settings.per_token_jobs  # only what was in flight when it ran out

        r.set_clock(first + HOUR)
        again = await engine.plan(trigger="schedule", slot=first + HOUR)
        assert not again.queued and r.sim.stats.quota_rejections["quota_requests_by_uid"] == rejected

        await work_until(r, engine, midnight + dt.timedelta(minutes=5))
        assert {row.job_status for row in await engine.store.counter_rows()} == {None}
        assert all(row.last_fetched_at for row in await engine.store.counter_rows())


async def test_month_users_from_totals_equal_those_of_the_month_dimension_at_one_request_a_refresh(tmp_path):
    world = World.generate(seed=79, accounts=2, counters_per_account=3)
    everything = counters_of(world)
    stored = {}
    requests = {}
    for mode in ("totals", "dimension"):
        async with rig(tmp_path / mode, world, quotas=NO_IP_QUOTA) as r:
            engine = await r.engine(month_users=mode)
            await add_accounts(engine, world)
            await engine.plan()
            assert all(o.ok for o in await engine.run_until_idle())
            for cid in everything:
                assert await assert_store_matches_world(engine.store, world, cid, r.clock.now()) >= 1
            counts = []
            for moment in (NOW + 2 * HOUR, dt.datetime(2026, 4, 2, 12, tzinfo=dt.UTC)):  # mid-month, across two
                before = r.sim.stats.by_endpoint["data"]
                r.set_clock(moment)
                await engine.plan()
                assert all(o.ok for o in await engine.run_until_idle())
                counts.append((r.sim.stats.by_endpoint["data"] - before) / len(everything))
            requests[mode] = counts
            stored[mode] = {
                cid: (await engine.store.monthly_stats(cid), await engine.store.daily_stats(cid)) for cid in everything
            }
    assert stored["totals"] == stored["dimension"]
    assert requests == {"totals": [1, 2], "dimension": [2, 2]}
    months = {m.month for cid in everything for m in stored["totals"][cid][0]}
    assert dt.date(2026, 4, 1) in months and dt.date(2026, 3, 1) in months


def test_requests_count_in_the_utc_day_the_quota_resets_at():
    from metrika_tui.store.store import quota_day

    assert quota_day(dt.datetime(2026, 3, 10, 23, 59, tzinfo=dt.UTC)) == (
        "2026-03-10",
        dt.datetime(2026, 3, 11, tzinfo=dt.UTC),
    )
    moscow = dt.timezone(dt.timedelta(hours=3))
    assert quota_day(dt.datetime(2026, 3, 11, 2, 0, tzinfo=moscow))[0] == "2026-03-10"
