"""Finished jobs are forgotten after a while, but a counter's newest job (its last failure) stays."""

from __future__ import annotations

import datetime as dt
from functools import partial

from metrika_tui.engine.planner import PlanMode, choose
from metrika_tui.models import Counter
from metrika_tui.settings import Settings
from metrika_tui.store import Store
from metrika_tui.tokens import Token

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


async def test_prune_keeps_recent_jobs_and_each_counters_newest(store_backend):
    store = await Store.open(store_backend)
    try:
        account = await store.add_account(user_id="u", login="l", token=Token("t" * 20), now=T0)
        await store.upsert_counters(account.id, [Counter(1, "a", "a.ru"), Counter(2, "b", "b.ru")], now=T0)
        now = T0
        for hour in range(48):  # two days of hourly passes; counter 2 fails every time
            now = T0 + hour * HOUR
            await store.plan_jobs(
                now=now,
                choose=partial(choose, settings=Settings(), now=now, moment=now, mode=PlanMode.RESERVE, force=True),
            )
            for _ in range(2):
                job = await store.claim_next_job("w", now, 60, 3)
                if job.counter_id == 1:
                    assert await store.record_fetch(
                        job, now=now, daily=[], month_users=[], raw_pages=[], newest_day=now.date()
                    )
                else:
                    assert await store.fail_job(job, now=now, error="no access") is True
        assert (await store.table_counts())["jobs"] == 96
        removed = await store.prune_history(now=now, keep=dt.timedelta(hours=12))
        assert removed == 96 - 2 * 13  # the last 13 hours of both counters stay
        assert len(await store.job_history(1, 100)) == 13
        failed = await store.failed_jobs()
        assert [j.counter_id for j in failed] == [2] and failed[0].last_error == "no access"
        # a very short retention still keeps each counter's newest job
        await store.prune_history(now=now + 100 * HOUR, keep=HOUR)
        assert [len(await store.job_history(c, 100)) for c in (1, 2)] == [1, 1]
        assert [j.counter_id for j in await store.failed_jobs()] == [2]
    finally:
        await store.close()
