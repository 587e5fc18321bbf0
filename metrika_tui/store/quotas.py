"""Each login's report budget in the database, for hosts that share one (PostgreSQL).

`Store` is the `metrika.shared_budget.ReportLedger` the client books through: one row per
login holds the moments of its bookings, and a booking is ONE statement (an upsert whose
new value is `metrika_report_booking(...)`, schema migration 8), so two hosts booking at
the same moment queue up on the row and the second sees the first's bookings.
"""

from __future__ import annotations

import datetime as dt

from metrika_tui.store.backend import AnyDatabase
from metrika_tui.store.db import StoreError
from metrika_tui.store.rows import from_ts, to_ts

_BOOKING = (
    "metrika_report_booking({grants}, CAST(:now AS DOUBLE PRECISION), CAST(:span AS DOUBLE PRECISION), :budget, :need)"
)
_BOOKED = _BOOKING.format(grants="w.grants")

#: book, unless the moment is more than max_wait away; (moment, bookings) when booked
_BOOK = f"""
INSERT INTO report_windows AS w (login, grants)
VALUES (:login, {_BOOKING.format(grants="CAST('{}' AS DOUBLE PRECISION[])")})
ON CONFLICT (login) DO UPDATE SET grants = {_BOOKED}
 WHERE ({_BOOKED})[cardinality({_BOOKED})] <= :now + :max_wait
RETURNING w.grants[cardinality(w.grants)], cardinality(w.grants)
"""
#: when the next booking could be (nothing booked): for the deferral's retry_at
_WOULD_BE = (
    f"SELECT ({_BOOKED})[cardinality({_BOOKED})], cardinality(w.grants) FROM report_windows w WHERE login = :login"
)


class QuotaStore:
    """The shared report budget; mixed into Store, which provides `self.db`."""

    db: AnyDatabase

    async def book_reports(
        self, login: str, *, now: dt.datetime, need: int, budget: int, span: dt.timedelta, max_wait: float
    ) -> tuple[dt.datetime, int]:
        """Book `need` report requests of `login` (see `shared_budget.ReportLedger`)."""
        if not self.db.dialect.is_postgres:
            raise StoreError("the shared report budget is kept in PostgreSQL only")
        params = {
            "login": login,
            "now": to_ts(now),
            "span": span.total_seconds(),
            "budget": budget,
            "need": need,
            "max_wait": max_wait,
        }
        async with self.db.transaction() as conn:
            async with conn.execute(_BOOK, params) as cur:
                row = await cur.fetchone()
            if row is None:  # too far away: nothing booked; say when it would be
                async with conn.execute(_WOULD_BE, params) as cur:
                    row = await cur.fetchone()
        if row is None:  # the row went between the two statements (nothing deletes it)
            raise StoreError(f"the report window of {login} could not be read")
        return from_ts(row[0]) or now, int(row[1])

    async def move_report(self, login: str, *, booked: dt.datetime, now: dt.datetime) -> None:
        """A booked report left at `now`: counted from then, as the server counts it."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE report_windows SET grants = metrika_report_moved(grants, CAST(:booked AS DOUBLE PRECISION),"
                " CAST(:now AS DOUBLE PRECISION)) WHERE login = :login",
                {"login": login, "booked": to_ts(booked), "now": to_ts(now)},
            )
