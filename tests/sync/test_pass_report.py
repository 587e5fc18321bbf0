"""`Engine.run_pass`: one report per pass, every counter the plan saw once with its outcome,
the counts adding up, the waits as told. Real engine, real simulator, one manual clock."""

from __future__ import annotations

import datetime as dt

from metrika_tui.engine.passes import PassReport, PlanResult
from metrika_tui.engine.waits import PassWait
from metrika_tui.jobs import Outcome, Trigger
from metrika_tui.simulator import QuotaConfig, World
from metrika_tui.tokens import Token

from .helpers import add_accounts, rig


class Told:
    """A progress that notes what it hears, in order."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, object]] = []

    def planned(self, plan: PlanResult, waiting: bool) -> None:
        self.heard.append(("planned", (plan, waiting)))

    def waiting(self, wait: PassWait) -> None:
        self.heard.append(("waiting", wait))


def outcomes(report: PassReport) -> dict[int, Outcome]:
    return {c.counter_id: c.outcome for c in report.counters}


def assert_adds_up(report: PassReport) -> None:
    """Every counter of the plan once; the counts sum to them."""
    ids = [c.counter_id for c in report.counters]
    assert len(ids) == len(set(ids)) == report.plan.total
    assert sum(report.counts.values()) == len(report.counters)
    assert set(report.counts) == set(Outcome)


async def test_a_pass_reports_synced_failed_revoked_and_in_sync_counters_once_each(tmp_path):
    world = World.generate(seed=91, accounts=3, counters_per_account=3)
    mine, dead, theirs = world.accounts
    async with rig(tmp_path, world) as r:
        engine = await r.engine()
        ids = await add_accounts(engine, world, [mine.token, dead.token])
        first, *rest = mine.counter_ids
        early = await engine.run_pass(trigger=Trigger.MANUAL, counter_id=first)
        assert outcomes(early) == {first: Outcome.SYNCED} and early.rows > 0
        # a counter the token cannot read, and a token that dies before the pass
        foreign = theirs.counter_ids[0]
        await engine.store.upsert_counters(ids[mine.token], [world.counter(foreign)], now=r.clock.now())
        r.sim.revoke(dead.token)
        told = Told()

        report = await engine.run_pass(trigger=Trigger.SYNC, progress=told)

        assert outcomes(report) == {
            first: Outcome.IN_SYNC,
            **dict.fromkeys(rest, Outcome.SYNCED),
            foreign: Outcome.FAILED,
            **dict.fromkeys(dead.counter_ids, Outcome.REVOKED),
        }
        assert_adds_up(report)
        assert report.counts[Outcome.SYNCED] == len(rest) and report.count(Outcome.REVOKED) == len(dead.counter_ids)
        assert report.count(Outcome.STILL_QUEUED, Outcome.LEFT_FOR_LATER) == 0
        by_id = {c.counter_id: c for c in report.counters}
        assert f"Access is denied to counter {foreign}" in by_id[foreign].error
        assert {by_id[cid].error for cid in dead.counter_ids} == {"account revoked: token rejected"}
        assert all(by_id[cid].rows > 0 and by_id[cid].error is None for cid in rest)
        assert report.rows == sum(by_id[cid].rows for cid in rest)
        assert {c.counter_id for c in report.unsynced} == {foreign, *dead.counter_ids}
        assert {c.counter_id for c in report.waited_for} == {*rest, foreign, *dead.counter_ids}
        assert report.slot_taken and report.waited and not report.stopped
        assert report.waits == () and report.ended_by is None and report.next_run_in == ""
        assert told.heard == [("planned", (report.plan, True))]


async def test_a_wait_beyond_the_bound_ends_the_pass_with_those_counters_still_queued(tmp_path):
    world = World.generate(seed=92, accounts=1, counters_per_account=3)
    quotas = QuotaConfig(per_ip_per_second=None, reports_per_window=4, report_window_seconds=300)
    async with rig(tmp_path, world, quotas=quotas) as r:
        engine = await r.engine(report_budget=4, report_window_seconds=300)  # 2 counters a window
        await add_accounts(engine, world)
        told = Told()

        report = await engine.run_pass(trigger=Trigger.ONCE, max_wait=dt.timedelta(0), progress=told)

        assert_adds_up(report)
        assert report.counts[Outcome.SYNCED] == 2 and report.counts[Outcome.STILL_QUEUED] == 1
        (queued,) = report.of(Outcome.STILL_QUEUED)
        assert queued.error.startswith("still queued: quota report_budget") and queued.rows == 0
        assert report.unsynced == (queued,)
        (wait,) = report.waits
        assert report.ended_by is wait and wait.beyond and wait.queued == 1
        assert report.next_run_in == "5m 1s"
        assert told.heard == [("planned", (report.plan, True)), ("waiting", wait)]
        (row,) = await engine.store.counter_rows(queued.counter_id)
        assert row.job_status == "queued"  # it stays in the queue for the next pass


async def test_a_pass_that_does_not_wait_reports_its_queue_and_what_the_quota_left_for_later(tmp_path):
    world = World.generate(seed=93, accounts=1, counters_per_account=6)
    async with rig(tmp_path, world) as r:
        engine = await r.engine(requests_per_day=30, reserve_percent=10)  # 27 to plan
        await add_accounts(engine, world)  # 1 request
        for _ in range(20):  # another program of the same login: 6 requests left to plan
            await engine.client.list_counters(Token(world.tokens[0]))
        told = Told()

        report = await engine.run_pass(trigger=Trigger.SYNC, force=True, wait=False, progress=told)

        assert_adds_up(report)
        queued, later = report.of(Outcome.STILL_QUEUED), report.of(Outcome.LEFT_FOR_LATER)
        assert queued and later and len(queued) + len(later) == 6
        assert [c.counter_id for c in later] == report.plan.skipped_budget
        assert {c.counter_id for c in queued} == set(report.plan.queued)
        assert not report.waited and report.waits == () and report.rows == 0
        assert told.heard == [("planned", (report.plan, False))]
        assert {row.id for row in await engine.store.counter_rows() if row.job_status} == set(report.plan.queued)
