"""Reading the stored statistics out, for `metrika-tui export`: one cursor, read in batches.

A whole database may hold 100,000 counters x 90 days, so rows are never gathered in a list:
one SELECT (one consistent read, however long it takes, while other processes write) is
walked a batch at a time, and its batches are handed on as they come.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Literal

from metrika_tui.models import month_start
from metrika_tui.store.backend import AnyDatabase
from metrika_tui.store.dialect import Dialect

#: rows read from the cursor at a time: large enough that a batch's thread hop costs little
EXPORT_BATCH = 5_000

Grain = Literal["daily", "monthly"]

#: the columns of an export, in order: who the row is about, when, the figures, how exact
LEADING_COLUMNS = ("counter_id", "counter_name", "site", "account_login")
FIGURE_COLUMNS = ("visits", "users", "pageviews", "bounce_rate_percent", "avg_visit_duration_seconds")
EXPORT_COLUMNS: dict[Grain, tuple[str, ...]] = {
    "daily": (*LEADING_COLUMNS, "date", *FIGURE_COLUMNS, "sampled"),
    "monthly": (*LEADING_COLUMNS, "month", *FIGURE_COLUMNS, "days", "sampled"),
}
_TABLE = {"daily": ("daily_stats", "date", ""), "monthly": ("monthly_stats", "month", ", s.days")}


@dataclass(frozen=True, slots=True)
class ExportQuery:
    """Which stored rows to read. `first`/`last` bound the day (daily) or, for monthly, the
    months they touch: a month is in when any of its days is in [first, last]."""

    grain: Grain
    counter_ids: frozenset[int] | None = None
    account_id: int | None = None
    first: dt.date | None = None
    last: dt.date | None = None

    def _where(self, dialect: Dialect) -> tuple[str, dict[str, Any]]:
        _, period, _ = _TABLE[self.grain]
        first = month_start(self.first) if self.first and self.grain == "monthly" else self.first
        params = {
            "ids": json.dumps(sorted(self.counter_ids)) if self.counter_ids is not None else None,
            "account": self.account_id,
            "first": first.isoformat() if first else None,
            "last": self.last.isoformat() if self.last else None,
        }
        where = (
            f"(:ids IS NULL OR s.counter_id IN {dialect.ids(':ids')})"
            " AND (:account IS NULL OR c.account_id = :account)"
            f" AND (:first IS NULL OR s.{period} >= :first) AND (:last IS NULL OR s.{period} <= :last)"
        )
        return where, params


class ExportStore:
    """Export reads; mixed into Store, which provides `self.db`."""

    db: AnyDatabase

    async def export_count(self, query: ExportQuery) -> int:
        """How many rows `export_batches` will yield (for a progress line)."""
        table, _, _ = _TABLE[query.grain]
        where, params = query._where(self.db.dialect)
        return int(
            await self.db.value(
                f"SELECT COUNT(*) FROM {table} s JOIN counters c ON c.id = s.counter_id WHERE {where}", params
            )
        )

    async def export_batches(
        self, query: ExportQuery, batch: int = EXPORT_BATCH
    ) -> AsyncGenerator[list[tuple[Any, ...]], None]:
        """The rows of `EXPORT_COLUMNS[query.grain]`, by counter then period, `batch` at a time; sampled
        as 0/1. Holds this connection while it runs: close it (`contextlib.aclosing`) when
        stopping early."""
        table, period, extra = _TABLE[query.grain]
        where, params = query._where(self.db.dialect)
        sql = (
            f"SELECT s.counter_id, c.name, c.site, a.login, s.{period}, s.visits, s.users, s.pageviews,"
            f" s.bounce_rate, s.avg_visit_duration{extra}, s.sampled"
            f" FROM {table} s JOIN counters c ON c.id = s.counter_id JOIN accounts a ON a.id = c.account_id"
            f" WHERE {where} ORDER BY s.counter_id, s.{period}"
        )
        async with contextlib.aclosing(self.db.stream(sql, params, batch)) as batches:
            async for rows in batches:
                yield rows

    async def counter_accounts(self, counter_ids: frozenset[int] | set[int]) -> dict[int, int]:
        """counter id -> its account id, for those of `counter_ids` the store knows."""
        rows = await self.db.fetchall(
            f"SELECT id, account_id FROM counters WHERE id IN {self.db.dialect.ids('?')}",
            (json.dumps(sorted(counter_ids)),),
        )
        return {counter_id: account_id for counter_id, account_id in rows}
