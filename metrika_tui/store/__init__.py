"""All of metrika-tui's SQL, behind a narrow async interface (SQLite through aiosqlite)."""

from metrika_tui.store.db import StoreError
from metrika_tui.store.export import EXPORT_COLUMNS, ExportQuery
from metrika_tui.store.rows import Account, ClaimedJob, CounterRow, HeldJob, JobRecord, PlanRows
from metrika_tui.store.store import Store

__all__ = [
    "EXPORT_COLUMNS",
    "Account",
    "ClaimedJob",
    "CounterRow",
    "ExportQuery",
    "HeldJob",
    "JobRecord",
    "PlanRows",
    "Store",
    "StoreError",
]
