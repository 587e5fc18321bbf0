"""How a pass settles what the API throws at it: a dead token, daily quotas, transient faults,
a counter out of reach. Real engine, real simulator, one manual clock."""

from __future__ import annotations

import datetime as dt

import pytest

from metrika_tui.events import Kind
from metrika_tui.models import ReportRequest
from metrika_tui.simulator import FaultConfig, LatencyConfig, QuotaConfig, World
from metrika_tui.tokens import Token

from .helpers import (
    FAST_RETRY,
    NOW,
    add_accounts,
    assert_store_matches_world,
    clock_follows_the_queue,
    record_events,
    rig,
)


async def test_a_token_revoked_mid_pass_stops_its_account_and_the_others_finish(tmp_path):
    world = World.generate(seed=35, accounts=3, counters_per_account=6)
    doomed, *others = world.accounts
    async with rig(tmp_path, world, latency=LatencyConfig(kind="fixed", median_ms=10.0)) as r:
        engine = await r.engine(workers=6)
        ids = await add_accounts(engine, world)
        doomed_id = ids[doomed.token]

        def revoke_after_its_first_success(event):
            if event.kind is Kind.DONE and event.account_id == doomed_id:
                r.sim.revoke(doomed.token)

        engine.bus.subscribe(revoke_after_its_first_success)
        events = record_events(engine)
        await engine.plan()
        outcomes = {o.counter_id: o for o in await engine.run_until_idle()}

        accounts = {a.id: a for a in await engine.store.accounts()}
        assert accounts[doomed_id].revoked and "Invalid oauth_token" in accounts[doomed_id].revoked_reason
        assert [a.revoked for a in accounts.values() if a.id != doomed_id] == [False] * len(others)
        assert [e.account_id for e in events if e.kind is Kind.REVOKED] == [doomed_id]

        # its jobs stopped: none left live, none started after the refusal, none failed
        statuses = {cid: [j.status for j in await engine.store.job_history(cid)] for cid in doomed.counter_ids}
        rows = {row.id: row for row in await engine.store.counter_rows()}
        assert all(rows[cid].job_status is None for cid in doomed.counter_ids)
        done = [cid for cid, s in statuses.items() if s == ["done"]]
        assert done and len(done) < len(doomed.counter_ids)
        assert all(s in (["done"], ["cancelled"], []) for s in statuses.values()), statuses
        # only the jobs running when the token died met the refusal: at most the 3 an account may run
        assert 1 <= r.sim.stats.errors["invalid_token"] <= 3
        assert all(
            not outcomes[cid].ok and "revoked" in outcomes[cid].error for cid in doomed.counter_ids if cid not in done
        )
        snapshot = {c.counter_id: c.state.value for c in (await engine.snapshot()).counters}
        assert {snapshot[cid] for cid in doomed.counter_ids} == {"revoked"}

        for account in others:
            for cid in account.counter_ids:
                assert outcomes[cid].ok and snapshot[cid] == "ok"
                await assert_store_matches_world(engine.store, world, cid, r.clock.now())
        # a plan leaves the revoked account out
        again = await engine.plan(force=True)
        assert not set(again.queued) & set(doomed.counter_ids)


def answers_420_for_429(app):
    """The API also sends its quota answers as HTTP 420."""

    async def rewritten(scope, receive, send):
        async def send_420(message):
            if message["type"] == "http.response.start" and message["status"] == 429:
                message = {**message, "status": 420}
            await send(message)

        await app(scope, receive, send_420)

    return rewritten


MIDNIGHT = dt.datetime(2026, 3, 11, tzinfo=dt.UTC)  # the daily quotas reset at 00:00 UTC


@pytest.mark.parametrize(
    ("quotas", "as_420", "resets_at", "error_type"),
    [
        # adding the account takes 1 request, two counters need 4: the last one is refused
        (QuotaConfig(per_ip_per_second=None, per_login_per_day=4), False, MIDNIGHT, "quota_requests_by_uid"),
        (QuotaConfig(per_ip_per_second=None, per_login_per_day=4), True, MIDNIGHT, "quota_requests_by_uid"),
        # the first counter's quota is half spent already: its monthly report is refused
        (QuotaConfig(per_ip_per_second=None, per_counter_per_day=2), False, MIDNIGHT, "quota_requests_by_counter_id"),
        # three report requests per 5 minutes, two counters need four
        (
            QuotaConfig(per_ip_per_second=None, reports_per_window=3),
            False,
            dt.datetime(2026, 3, 10, 12, 5, tzinfo=dt.UTC),
            "quota_requests_by_uid",
        ),
    ],
    ids=["token-daily-429", "token-daily-420", "counter-daily", "report-window"],
)
async def test_quota_answers_defer_to_the_reset_without_burning_an_attempt(
    tmp_path, quotas, as_420, resets_at, error_type
):
    world = World.generate(seed=36, accounts=1, counters_per_account=2)
    counters = list(world.accounts[0].counter_ids)
    async with rig(tmp_path, world, quotas=quotas) as r:
        engine = await r.engine(app=answers_420_for_429(r.sim.app) if as_420 else None)
        await add_accounts(engine, world)
        if quotas.per_counter_per_day:  # someone else read the first counter today
            await engine.client.read_window(
                Token(world.tokens[0]), counters[0], [ReportRequest(NOW.date(), NOW.date())]
            )
        events = record_events(engine)
        await engine.plan()

        first = {o.counter_id: o for o in await engine.run_until_idle()}  # returns: the rest waits for the reset

        rows = {row.id: row for row in await engine.store.counter_rows()}
        deferred = [cid for cid in counters if rows[cid].job_status == "queued"]
        assert len(deferred) == 1 and r.sim.stats.quota_rejections[error_type] == 1
        for cid in deferred:
            assert rows[cid].job_attempts == 0 and rows[cid].last_error is None
            assert not first[cid].ok and "quota" in first[cid].error
        for cid in set(counters) - set(deferred):
            assert first[cid].ok
        assert await engine.store.next_run_after() == resets_at
        assert [e.counter_id for e in events if e.kind is Kind.DEFERRED] == deferred

        r.set_clock(resets_at - dt.timedelta(seconds=1))  # nothing moves before the reset
        assert await engine.store.claim_next_job("probe", r.clock.now(), 60, 3) is None
        r.set_clock(resets_at)
        second = await engine.run_until_idle(set(deferred))
        assert [o.ok for o in second] == [True], second

        for cid in counters:
            (job,) = await engine.store.job_history(cid)
            assert (job.status, job.attempts) == ("done", 0)
            synced_at = resets_at if cid in deferred else NOW
            await assert_store_matches_world(engine.store, world, cid, synced_at)


TRANSIENT = {  # a fault, and what of it the failed job keeps
    "backend_error": "Backend error, please try again later (HTTP 503 backend_error)",
    "timeout": "Query execution timeout exceeded (HTTP 504 timeout)",
    "html_500": "HTTP 500 with a non-JSON body",
    "malformed_json": "body that is not JSON",
    "drop_connection": "connection trouble",
}


@pytest.mark.parametrize("fault", TRANSIENT)
async def test_transient_faults_back_off_then_fail_keeping_the_error_and_a_retry_succeeds(tmp_path, fault):
    kept = TRANSIENT[fault]
    world = World.generate(seed=37, accounts=1, counters_per_account=1)
    (counter_id,) = world.accounts[0].counter_ids
    async with rig(tmp_path, world) as r:
        engine = await r.engine(max_attempts=3)
        await add_accounts(engine, world)
        r.sim.set_faults(FaultConfig(**{fault: 1.0}))
        events = record_events(engine)
        await engine.plan()

        async with clock_follows_the_queue(r, engine) as waits:
            (outcome,) = await engine.run_until_idle()

        assert not outcome.ok and kept in outcome.error
        # each try: the client's quick in-process retries, then back to the queue, waiting longer each time
        assert r.sim.stats.faults[fault] == 3 * FAST_RETRY.attempts
        assert len(waits) == 2 and 0 < waits[0] <= waits[1], waits
        assert len([e for e in events if e.kind is Kind.RETRYING]) == 2
        (failed,) = await engine.failed_jobs()
        assert (failed.counter_id, failed.status, failed.attempts) == (counter_id, "failed", 3)
        assert failed.last_error is not None and kept in failed.last_error
        (status,) = (await engine.snapshot()).counters
        assert status.state.value == "failed" and status.last_error == failed.last_error
        assert await engine.store.daily_stats(counter_id) == []

        r.sim.set_faults(FaultConfig())
        assert await engine.retry_failed() == 1
        (outcome,) = await engine.run_until_idle()

        assert outcome.ok
        retried, gave_up = await engine.store.job_history(counter_id)
        assert (retried.status, retried.attempts, retried.trigger) == ("done", 0, "retry")
        assert gave_up.id == failed.id and gave_up.last_error == failed.last_error  # the failure stays in the history
        assert await engine.failed_jobs() == []
        assert (await engine.store.counter_rows(counter_id))[0].last_error is None
        await assert_store_matches_world(engine.store, world, counter_id, r.clock.now())


async def test_access_denied_fails_that_counter_only_with_the_apis_message(tmp_path):
    world = World.generate(seed=38, accounts=2, counters_per_account=3)
    mine, theirs = world.accounts
    foreign = theirs.counter_ids[0]
    async with rig(tmp_path, world) as r:
        engine = await r.engine()
        ids = await add_accounts(engine, world, [mine.token])
        # a counter the token cannot read (its access was withdrawn after discovery)
        await engine.store.upsert_counters(ids[mine.token], [world.counter(foreign)], now=r.clock.now())
        await engine.plan()

        outcomes = {o.counter_id: o for o in await engine.run_until_idle()}

        assert not outcomes[foreign].ok
        assert f"Access is denied to counter {foreign}" in outcomes[foreign].error
        (failed,) = await engine.failed_jobs()
        assert (failed.counter_id, failed.attempts) == (foreign, 1) and failed.last_error == outcomes[foreign].error
        assert r.sim.stats.errors["access_denied"] == 1  # not retried: retrying changes nothing
        assert [a.revoked for a in await engine.store.accounts()] == [False]
        states = {c.counter_id: c.state.value for c in (await engine.snapshot()).counters}
        assert states.pop(foreign) == "failed" and set(states.values()) == {"ok"}
        for cid in mine.counter_ids:
            assert outcomes[cid].ok
            await assert_store_matches_world(engine.store, world, cid, r.clock.now())
