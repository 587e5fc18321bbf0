"""Benchmark: `metrika-tui export` streams in constant memory. Prints figures; not a test.

For each size (default 10,000 and 100,000 counters, 90 stored days each: 0.9 and 9 million
daily rows; the store seeded directly), the real command as a subprocess, its peak resident
memory the kernel's high-water mark (VmHWM in /proc/PID/status, read until it exits; not
wait4's ru_maxrss, which counts the forking benchmark's own memory from before the exec):
- `export daily --output FILE` (CSV), `export daily --format jsonl` to stdout (into
  /dev/null), `export monthly --output FILE`: peak RSS, seconds, rows a second;
against, in the same run and on the same database:
- the `--headless` daemon, idle with every counter in sync: its RSS after it settled;
- the export done the naive way (one `fetchall()` of the same rows, then the csv module),
  at the smallest size only (at 9 million rows it would need gigabytes).
Memory is flat when the export's peak is the same at 0.9 and 9 million rows.

    .venv/bin/python bench/export_memory.py [--sizes 10000,100000] [--days 90]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine
from scale import COMMAND, PYTHON, Daemon, env_for, mark_in_sync, sample, seeded, wait_for_line

from metrika_tui.models import month_start

#: the naive export: every row in one list, then written
NAIVE = """
import csv, sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute(
    "SELECT s.counter_id, c.name, c.site, a.login, s.date, s.visits, s.users, s.pageviews, s.bounce_rate,"
    " s.avg_visit_duration, s.sampled FROM daily_stats s JOIN counters c ON c.id = s.counter_id"
    " JOIN accounts a ON a.id = c.account_id ORDER BY s.counter_id, s.date").fetchall()
with open(sys.argv[2], "w", newline="") as out:
    csv.writer(out).writerows(rows)
"""


def write_days(db: Path, days: int) -> tuple[int, int]:
    """`days` daily rows for every counter (ending yesterday) and their months; (daily, monthly)."""
    last = dt.date.today() - dt.timedelta(days=1)
    dates = [(last - dt.timedelta(days=n)).isoformat() for n in range(days)]
    months = sorted({month_start(dt.date.fromisoformat(d)).isoformat() for d in dates})
    rng = random.Random(7)
    now = time.time()
    with sqlite3.connect(db) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM counters ORDER BY id")]

        def daily():
            for cid in ids:
                for date in dates:
                    visits = rng.randint(10, 5000)
                    yield (
                        cid,
                        date,
                        visits,
                        visits * 4 // 5,
                        visits * 3,
                        round(rng.uniform(20, 60), 4),
                        round(rng.uniform(60, 300), 3),
                        now,
                    )

        conn.execute("PRAGMA journal_mode = WAL")
        conn.executemany(
            "INSERT INTO daily_stats (counter_id, date, visits, users, pageviews, bounce_rate,"
            " avg_visit_duration, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            daily(),
        )
        conn.executemany(
            "INSERT INTO monthly_stats (counter_id, month, visits, users, pageviews, bounce_rate,"
            " avg_visit_duration, days, updated_at) SELECT counter_id, :month, SUM(visits), SUM(users) / 2,"
            " SUM(pageviews), AVG(bounce_rate), AVG(avg_visit_duration), COUNT(*), :now FROM daily_stats"
            " WHERE date >= :month AND date < :next GROUP BY counter_id",
            [{"month": m, "next": _next(m), "now": now} for m in months],
        )
        counts = conn.execute("SELECT (SELECT COUNT(*) FROM daily_stats), (SELECT COUNT(*) FROM monthly_stats)")
        return counts.fetchone()


def _next(month: str) -> str:
    first = dt.date.fromisoformat(month)
    return (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1).isoformat()


def high_water_mib(pid: int) -> float | None:
    """The process's peak resident memory so far (the kernel keeps it: VmHWM), or None once gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kib = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), None)
    return int(kib) / 1024 if kib else None


def peak_run(cmd: list[str], env: dict) -> tuple[float, float]:
    """(peak RSS in MiB, seconds) of one process; the peak is a high-water mark, so reading it
    every 20 ms misses only what its last 20 ms might add."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, high_water_mib(proc.pid) or 0.0)
        time.sleep(0.02)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"{cmd} exited {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
    return peak, seconds


def daemon_idle_rss(folder: Path, settle: float) -> float:
    daemon = Daemon(folder, "http://127.0.0.1:9")  # every counter in sync: no request is made
    try:
        wait_for_line(daemon.out, "daemon started", limit=300)
        time.sleep(settle)
        _, _, rss = sample(daemon.process, 3.0)
    finally:
        daemon.stop()
    return rss


def figures(counters: int, days: int, naive: bool, settle: float) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        folder = Path(tmp)
        _, seeding = asyncio.run(seeded(folder, counters))
        db = folder / "metrika.db"
        t0 = time.perf_counter()
        daily_rows, monthly_rows = write_days(db, days)
        mark_in_sync(db)
        print(
            f"  seeded {counters:,} counters ({seeding:.1f} s), {daily_rows:,} daily and {monthly_rows:,} monthly"
            f" rows ({time.perf_counter() - t0:.1f} s); database {db.stat().st_size / 2**20:,.0f} MiB"
        )
        env = env_for(folder)
        idle = daemon_idle_rss(folder, settle)
        print(f"  the daemon, idle (all in sync):         RSS {idle:6.0f} MiB")

        out = folder / "daily.csv"
        rss, seconds = peak_run([COMMAND, "export", "daily", "--output", str(out)], env)
        size = out.stat().st_size / 2**20
        out.unlink()
        print(
            f"  export daily --output daily.csv:        peak RSS {rss:6.0f} MiB ({rss / idle:.2f}x the idle daemon),"
            f" {seconds:5.1f} s, {daily_rows / seconds:,.0f} rows/s, {size:,.0f} MiB of CSV"
        )
        jsonl, seconds = peak_run([COMMAND, "export", "daily", "--format", "jsonl"], env)
        print(
            f"  export daily --format jsonl > /dev/null: peak RSS {jsonl:6.0f} MiB, {seconds:5.1f} s,"
            f" {daily_rows / seconds:,.0f} rows/s"
        )
        monthly, seconds = peak_run([COMMAND, "export", "monthly", "--output", str(folder / "monthly.csv")], env)
        print(f"  export monthly --output monthly.csv:    peak RSS {monthly:6.0f} MiB, {seconds:5.1f} s")
        if naive:
            base, seconds = peak_run([PYTHON, "-c", NAIVE, str(db), str(folder / "naive.csv")], env)
            print(
                f"  the naive export (fetchall, then csv):  peak RSS {base:6.0f} MiB ({base / rss:.1f}x the"
                f" streamed export), {seconds:5.1f} s"
            )
        return rss


def main(args) -> None:
    print(f"machine: {machine()}")
    peaks = {}
    for n, counters in enumerate(args.sizes):
        print(f"\n{counters:,} COUNTERS x {args.days} DAYS")
        peaks[counters] = figures(counters, args.days, naive=n == 0, settle=args.settle)
    if len(peaks) > 1:
        small, large = min(peaks), max(peaks)
        print(
            f"\nexport daily's peak RSS at {large:,} counters / at {small:,}: {peaks[large] / peaks[small]:.2f}"
            f" for {large / small:.0f}x the rows"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",") if x], default=[10_000, 100_000])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds the idle daemon settles before its RSS")
    main(parser.parse_args())
