"""raw_answers compressed: how much smaller the database is on the demo world.

One first sync of the demo world (3 accounts, 15 counters, 90 days of backfill, through the
simulator in process), then the same database with every raw answer stored as the JSON text
the previous release wrote (`json.dumps(body, ensure_ascii=False)`), both VACUUMed: bytes of
the bodies and of the files, and the ratio, measured in the same run.

    .venv/bin/python bench/raw_answers.py
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine
from metrika_tui.engine.accounts import add_account
from metrika_tui.engine.service import Engine
from metrika_tui.metrika import MetrikaClient
from metrika_tui.settings import Settings
from metrika_tui.simulator import Simulator, SimulatorConfig, World
from metrika_tui.store.queue import decompress_answer
from metrika_tui.tokens import Token


async def first_sync(db: Path) -> int:
    world = World.demo()
    sim = Simulator(world, SimulatorConfig())
    client = MetrikaClient("http://metrika.test", transport=httpx.ASGITransport(app=sim.app), max_rps=1000)
    engine = await Engine.open(Settings(db_path=db, log_file=db.with_suffix(".log")), client=client)
    try:
        for token in world.tokens:
            await add_account(engine, Token(token), user_id=None)
        await engine.plan()
        outcomes = await engine.run_until_idle()
        assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok]
        return len(outcomes)
    finally:
        await engine.close()
        await client.aclose()


def as_previous_release(db: Path, copy: Path) -> None:
    """The same rows, each body as the JSON text the previous release stored."""
    shutil.copy(db, copy)
    with sqlite3.connect(copy) as conn:
        rows = conn.execute("SELECT id, body, encoding FROM raw_answers").fetchall()
        conn.executemany(
            "UPDATE raw_answers SET body = ?, encoding = 'json' WHERE id = ?",
            [(json.dumps(decompress_answer(body, enc), ensure_ascii=False), i) for i, body, enc in rows],
        )
    vacuum(copy)


def vacuum(db: Path) -> None:
    """Compact the file, and fold the WAL back into it (the file's size is then the database's)."""
    conn = sqlite3.connect(db)
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()


def bodies(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*), SUM(LENGTH(CAST(body AS BLOB))) FROM raw_answers").fetchone()


def main() -> None:
    print(machine())
    with tempfile.TemporaryDirectory() as folder:
        db, previous = Path(folder) / "now.db", Path(folder) / "previous.db"
        started = time.perf_counter()
        counters = asyncio.run(first_sync(db))
        vacuum(db)
        as_previous_release(db, previous)
        (answers, packed), (_, plain) = bodies(db), bodies(previous)
        size_now, size_before = db.stat().st_size, previous.stat().st_size
        print(f"demo world: {counters} counters, {answers} raw answers kept ({time.perf_counter() - started:.1f} s)")
        print(
            f"raw answer bodies: {plain:,} bytes as JSON text (previous), {packed:,} bytes zlib (now): "
            f"{plain / packed:.1f}x smaller"
        )
        print(
            f"database file after VACUUM: {size_before:,} bytes (previous), {size_now:,} bytes (now): "
            f"{size_before / size_now:.2f}x smaller, {size_before - size_now:,} bytes saved"
        )


if __name__ == "__main__":
    main()
