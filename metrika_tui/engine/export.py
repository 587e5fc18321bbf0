"""The stored statistics out (`metrika-tui export`): the request checked, then streamed.

The check comes first and reads little (the ids asked for), so a bad id is refused before
a single row is written; the rows then stream from the store in batches (`ExportQuery`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from metrika_tui.engine.ports import EngineParts
from metrika_tui.store import EXPORT_COLUMNS, ExportQuery
from metrika_tui.store.db import Row
from metrika_tui.store.export import Grain

__all__ = [
    "EXPORT_COLUMNS",
    "ExportQuery",
    "ExportRequestError",
    "Grain",
    "Row",
    "check_export",
    "export_batches",
    "export_count",
]


class ExportRequestError(ValueError):
    """The export names what the store does not hold; the message says what, and where to look."""


async def check_export(engine: EngineParts, query: ExportQuery) -> None:
    """Refuse ids the store does not know, and a counter outside the account asked for."""
    if query.account_id is not None and all(a.id != query.account_id for a in await engine.store.accounts()):
        raise ExportRequestError(f"unknown account id {query.account_id} (see 'metrika-tui accounts list')")
    if query.counter_ids is None:
        return
    owners = await engine.store.counter_accounts(query.counter_ids)
    if unknown := sorted(query.counter_ids - owners.keys()):
        listed = ", ".join(map(str, unknown))
        raise ExportRequestError(f"unknown counter id(s): {listed} (see 'metrika-tui counters list')")
    if query.account_id is not None and (others := sorted(c for c, a in owners.items() if a != query.account_id)):
        listed = ", ".join(f"{c} (of account {owners[c]})" for c in others)
        raise ExportRequestError(f"not counters of account {query.account_id}: {listed}")


async def export_count(engine: EngineParts, query: ExportQuery) -> int:
    return await engine.store.export_count(query)


def export_batches(engine: EngineParts, query: ExportQuery) -> AsyncGenerator[list[tuple[Any, ...]], None]:
    """The rows, `EXPORT_COLUMNS[query.grain]` each, a batch at a time (see the store)."""
    return engine.store.export_batches(query)
