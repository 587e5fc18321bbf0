"""`python faulty_cli.py ARGS...`: the real `metrika-tui` command, with a fault planted in its
database layer by environment variables (a real process; only the fault is simulated):

- FAULT_DISK_PAGES_LEFT=N: the disk is full N pages past the file's size when opened
  (`PRAGMA max_page_count` on every connection): SQLite itself answers SQLITE_FULL,
  "database or disk is full", at the first write that needs more room;
- FAULT_BUSY_TIMEOUT_MS=N: wait at most N ms for another writer's lock (the product waits
  15 s; a test cannot).
"""

from __future__ import annotations

import os
import sys

from metrika_tui.cli import main
from metrika_tui.store import db as store_db


def plant() -> None:
    if busy := os.environ.get("FAULT_BUSY_TIMEOUT_MS"):
        store_db.BUSY_TIMEOUT_MS = int(busy)
    if pages_left := os.environ.get("FAULT_DISK_PAGES_LEFT"):
        prepare = store_db.Database._prepare

        async def prepare_on_a_full_disk(self) -> None:
            await prepare(self)
            pages = (await self._one("PRAGMA page_count"))[0]
            await self._one(f"PRAGMA max_page_count = {pages + int(pages_left)}")

        store_db.Database._prepare = prepare_on_a_full_disk


if __name__ == "__main__":
    plant()
    sys.exit(main(sys.argv[1:]))
