"""All of metrika-tui's SQL, behind a narrow async interface (SQLite through aiosqlite)."""

from metrika_tui.store.db import StoreError
from metrika_tui.store.rows import Account, ClaimedJob, CounterRow, HeldJob, JobRecord, PlanRows
from metrika_tui.store.store import Store

__all__ = ["Account", "ClaimedJob", "CounterRow", "HeldJob", "JobRecord", "PlanRows", "Store", "StoreError"]
