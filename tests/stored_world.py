"""A database with counters and their stored days, written through the store as a sync would
(for the export and health tests: no API, no simulator)."""

from __future__ import annotations

import datetime as dt
from functools import partial
from pathlib import Path

from metrika_tui.engine.planner import PlanMode, choose
from metrika_tui.models import Counter, DailyStat, MonthUsers, month_start
from metrika_tui.settings import Settings
from metrika_tui.store import Store
from metrika_tui.tokens import Token

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
FIRST_DAY = dt.date(2026, 1, 1)


async def stored(
    db: Path,
    accounts: dict[str, list[int]],
    days: int,
    *,
    sampled: frozenset[int] = frozenset(),
    names: dict[int, str] | None = None,
    now: dt.datetime = NOW,
) -> None:
    """Each login's counters with `days` days from FIRST_DAY, written through the store as a sync
    would (a claimed job, then record_fetch); the counters in `sampled` say Metrika sampled."""
    store = await Store.open(db)
    try:
        for n, (login, ids) in enumerate(accounts.items()):
            account = await store.add_account(user_id=login, login=login, token=Token(f"y0_{n:020d}"), now=now)
            counters = [Counter(cid, (names or {}).get(cid, f"site {cid}"), f"{cid}.example") for cid in ids]
            await store.upsert_counters(account.id, counters, now=now)
        await store.plan_jobs(
            now=now, choose=partial(choose, settings=Settings(), now=now, moment=now, mode=PlanMode.FITS, force=True)
        )
        while job := await store.claim_next_job("test", now, 60, 10_000):
            cid = job.counter_id
            daily = [
                DailyStat(
                    FIRST_DAY + dt.timedelta(days=d),
                    visits=cid % 97 + d,
                    users=cid % 89 + d // 2,
                    pageviews=3 * (cid % 97 + d),
                    bounce_rate=20 + d % 7 + 0.25,
                    avg_visit_duration=60.5 + d,
                )
                for d in range(days)
            ]
            months = sorted({month_start(d.date) for d in daily})
            assert await store.record_fetch(
                job,
                now=now,
                daily=daily,
                month_users=[MonthUsers(m, 1000 + cid % 7) for m in months],
                raw_pages=[],
                newest_day=daily[-1].date,
                sample_share=0.1 if cid in sampled else None,
            )
    finally:
        await store.close()
