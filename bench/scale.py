"""Benchmark: metrika-tui with 10,000 and 100,000 counters. Prints figures; not a test.

For each size (the store seeded directly, 100 counters an account):
- planning a pass (every counter due: one job each), and planning again (all already
  queued), against a bare SQLite statement that queues the same jobs on a copy of the file;
- claiming the next job from that queue (what each worker does per job);
- the console's re-read during a pass: a snapshot of ~300 changed counters on the last one,
  against a full snapshot; `metrika-tui health`'s checks, against the same full snapshot;
- a `sync-status` query: the engine's snapshot (rows, states, summary) in process, and the
  real `metrika-tui sync-status --json` command, against a bare SQLite read of the same
  rows and an empty Python start-up;
- the console: start to a full table, a burst of 1,000 state changes reconciled, and idle
  CPU (bench/console_reconcile.py's comparison), against the previous table (a Textual
  DataTable reconciled by key) in the same run.
Then, with 10,000 counters, the real processes:
- the `--headless` daemon: resident memory after it planned a pass and works it against the
  simulator (its own process, real quotas), and idle (every counter in sync), with its idle
  CPU; against an idle Python interpreter; then idle again serving /metrics, scraped every
  15 s and every 5 s: its CPU against the same daemon without;
Then the real console in tmux (a private server, `tmux -L bench`) over 10,000 and 100,000
counters in sync: time to the first screen with counters on it, idle CPU (over at least 65 s:
one re-read of the engine) and memory; against a bare Textual app in the same tmux.

    .venv/bin/python bench/scale.py [--sizes 10000,100000] [--console-sizes 10000,100000] [--idle-seconds 30]
                                  [--skip-console]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, seed_store, simulator
from console_reconcile import compare

from metrika_tui.engine.health import check_health
from metrika_tui.engine.service import Engine
from metrika_tui.settings import Settings
from metrika_tui.simulator import LatencyConfig, SimulatorConfig, World
from metrika_tui.store.rows import to_ts

SEED = 7
PER_ACCOUNT = 100
PYTHON = sys.executable
COMMAND = str(Path(sys.executable).with_name("metrika-tui"))
#: seconds a console is left to settle after start-up before its idle CPU is sampled
SETTLE = 15.0
TMUX = ["tmux", "-L", "bench"]  # a private server: the user's own tmux is never touched

#: the rows `sync-status` reads, as one bare statement (the store's `counter_rows`)
BARE_ROWS = (
    "SELECT c.id, c.account_id, a.user_id, a.login, a.revoked, c.name, c.site, c.time_zone, c.active,"
    " c.last_fetched_at, c.last_attempt_at, c.last_error, j.status, COALESCE(j.attempts, 0)"
    " FROM counters c JOIN accounts a ON a.id = c.account_id"
    " LEFT JOIN jobs j ON j.counter_id = c.id AND j.status IN ('queued', 'running') ORDER BY c.account_id, c.id"
)
BARE_NEXT = (
    "SELECT id FROM jobs WHERE status IN ('queued', 'running') AND status = 'queued'"
    " ORDER BY priority DESC, run_after, id LIMIT 1"
)
#: the claim's choice before it walked the index: a count of running jobs per queued job, then a sort
OLD_CLAIM = """
SELECT j.id FROM jobs j JOIN accounts a ON a.id = j.account_id
 WHERE ((j.status = 'queued' AND j.run_after <= :now) OR (j.status = 'running' AND j.lease_expires_at < :now))
   AND a.revoked = 0
   AND (SELECT COUNT(*) FROM jobs r WHERE r.account_id = j.account_id AND r.status = 'running'
         AND r.lease_expires_at >= :now) < :limit
 ORDER BY j.priority DESC, j.run_after, j.id LIMIT 1
"""
BARE_PLAN = (
    "INSERT INTO jobs (counter_id, account_id, status, priority, run_after, trigger, created_at)"
    " SELECT c.id, c.account_id, 'queued', 0, :now, 'bare', :now FROM counters c JOIN accounts a ON a.id = c.account_id"
    " WHERE c.active = 1 AND a.revoked = 0"
)


def ms(seconds: float) -> str:
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 0.01:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


async def atimed(coro) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = await coro
    return time.perf_counter() - t0, result


def median_of(runs: int, fn, *args) -> float:
    return statistics.median(timed(fn, *args) for _ in range(runs))


def settings_for(folder: Path, **changes) -> Settings:
    return Settings(
        db_path=folder / "metrika.db", log_file=folder / "metrika.log", api_url="http://127.0.0.1:9", **changes
    )


def env_for(folder: Path, **extra: str) -> dict[str, str]:
    """The environment of a metrika-tui subprocess: this database, no user config file."""
    return {
        **os.environ,
        "METRIKA_DB": str(folder / "metrika.db"),
        "METRIKA_CONFIG": str(folder / "none.toml"),
        "METRIKA_LOG_FILE": str(folder / "metrika.log"),
        "METRIKA_DATA_DIR": str(folder),
        **extra,
    }


async def seeded(folder: Path, counters: int) -> tuple[World, float]:
    world = World.generate(seed=SEED, accounts=counters // PER_ACCOUNT, counters_per_account=PER_ACCOUNT)
    engine = await Engine.open(settings_for(folder))
    try:
        seconds, _ = await atimed(seed_store(engine.store, world))
    finally:
        await engine.close()
    return world, seconds


def mark_in_sync(db: Path) -> None:
    """Every counter synced just now (a bench shortcut: one UPDATE instead of a pass)."""
    now = dt.datetime.now(dt.UTC)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE counters SET last_fetched_at = ?, synced_for = ?, last_attempt_at = ?, last_fetched_day = ?",
            (to_ts(now), to_ts(now), to_ts(now), now.date().isoformat()),
        )


def bare(db: Path, sql: str, **params) -> float:
    """Median seconds of one statement on an open connection (the connection not timed)."""
    with sqlite3.connect(db) as conn:
        return median_of(3, lambda: conn.execute(sql, params).fetchall())


def run(cmd: list[str], env: dict | None = None) -> None:
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)


# -- planning, sync-status, reconcile -----------------------------------------------------------


async def store_figures(counters: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        folder = Path(tmp)
        world, seeding = await seeded(folder, counters)
        db = folder / "metrika.db"
        shutil.copy(db, folder / "bare.db")
        print(f"  seeding {counters:,} counters over {len(world.accounts)} accounts (store API): {ms(seeding)}")

        engine = await Engine.open(settings_for(folder))
        try:
            first, plan = await atimed(engine.plan())
            assert len(plan.queued) == counters
            again, plan2 = await atimed(engine.plan())
            assert len(plan2.already_live) == counters
            await engine.recorder.flush()
            with sqlite3.connect(folder / "bare.db") as conn:
                base = timed(conn.execute, BARE_PLAN, {"now": time.time()})
            print(
                f"  plan a pass, all {counters:,} due:       {ms(first):>9}   (bare SQLite INSERT .. SELECT: "
                f"{ms(base)}; {first / base:.1f}x)"
            )
            print(f"  plan again, all already queued:      {ms(again):>9}")

            snaps = []
            for _ in range(3):
                seconds, snapshot = await atimed(engine.snapshot())
                snaps.append(seconds)
            assert len(snapshot.counters) == counters and snapshot.summary.queued == counters
            snap = statistics.median(snaps)
            base = bare(db, BARE_ROWS)
            print(
                f"  sync-status in process (snapshot):   {ms(snap):>9}   (bare SQLite read of the same rows: "
                f"{ms(base)}; {snap / base:.1f}x)"
            )
            changed = {c.counter_id for c in snapshot.counters[:: max(1, counters // 300)]}
            partials = [(await atimed(engine.snapshot(changed=changed, base=snapshot)))[0] for _ in range(3)]
            print(
                f"  the console's re-read, {len(changed)} changed: {ms(statistics.median(partials)):>9}   "
                f"(a full snapshot: {ms(snap)}; {snap / statistics.median(partials):.1f}x)"
            )
            healths = [(await atimed(check_health(engine.settings)))[0] for _ in range(3)]
            print(
                f"  `health`'s checks (in process):      {ms(statistics.median(healths)):>9}   (a full snapshot: "
                f"{ms(snap)})"
            )

            now = dt.datetime.now(dt.UTC)
            claims = [(await atimed(engine.store.claim_next_job(f"bench:w{n}", now, 120, 3)))[0] for n in range(30)]
            claim = statistics.median(claims)
            base = bare(db, BARE_NEXT)
            old = bare(db, OLD_CLAIM, now=now.timestamp(), limit=3)
            print(
                f"  claim the next job (30, as a pass starts): {ms(claim)} each   (the claim's read before "
                f"this release: {ms(old)}; bare read of the next queued job: {ms(base)})"
            )
        finally:
            await engine.close()

        env = env_for(folder)
        cli = median_of(3, run, [COMMAND, "sync-status", "--json"], env)
        empty = median_of(3, run, [PYTHON, "-c", "pass"])
        out = subprocess.run([COMMAND, "sync-status", "--json"], env=env, capture_output=True, check=True).stdout
        assert json.loads(out)["summary"]["total"] == counters
        print(
            f"  `metrika-tui sync-status --json`:    {ms(cli):>9}   (empty Python start-up: {ms(empty)}; "
            f"{len(out) / 2**20:.1f} MiB of JSON)"
        )


async def console_figures(counters: int, burst: int, rounds: int, idle_seconds: float) -> None:
    """bench/console_reconcile.py's comparison at this size (one baseline round: it is slow)."""
    await compare(counters, burst, rounds, min(idle_seconds, 20.0), baseline_rounds=1)


# -- the real processes ---------------------------------------------------------------------------


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return (
        times.user
        + times.system
        + sum(c.cpu_times().user + c.cpu_times().system for c in process.children(recursive=True))
    )


def sample(process: psutil.Process, seconds: float) -> tuple[float, float, float]:
    """(share of one core used over `seconds`, the busiest second's share, resident MiB at the end)."""
    shares, t0, cpu0 = [], time.perf_counter(), cpu_seconds(process)
    last, then = cpu0, t0
    while (now := time.perf_counter()) - t0 < seconds:
        time.sleep(min(1.0, seconds - (now - t0)))
        cpu, now = cpu_seconds(process), time.perf_counter()
        shares.append(100 * (cpu - last) / (now - then))
        last, then = cpu, now
    used, wall = last - cpu0, then - t0
    return 100 * used / wall, max(shares), process.memory_info().rss / 2**20


def wait_for_line(path: Path, text: str, limit: float = 120.0) -> float:
    t0 = time.perf_counter()
    while text not in (path.read_text() if path.exists() else ""):
        if time.perf_counter() - t0 > limit:
            raise RuntimeError(f"{text!r} never appeared in {path}:\n{path.read_text()[-2000:]}")
        time.sleep(0.05)
    return time.perf_counter() - t0


class Daemon:
    """`metrika-tui --headless` as a subprocess, its output in a file."""

    def __init__(self, folder: Path, url: str, *args: str) -> None:
        self.out = folder / "daemon.out"
        with self.out.open("w") as sink:
            self.proc = subprocess.Popen(
                [COMMAND, "--headless", *args],
                env=env_for(folder, METRIKA_API_URL=url),
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self.process = psutil.Process(self.proc.pid)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


BARE_APP = """
from textual.app import App
from textual.widgets import Footer, Header, Static
class Bare(App):
    def compose(self):
        yield Header()
        yield Static("bare textual app ready")
        yield Footer()
Bare().run()
"""


class Console:
    """A command in a window of the private tmux server."""

    def __init__(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.name = name
        line = "exec " + " ".join(f"'{part}'" for part in command)
        self.started = time.perf_counter()
        subprocess.run([*TMUX, "new-session", "-d", "-s", name, "-x", "160", "-y", "45", line], env=env, check=True)
        pid = subprocess.run(
            [*TMUX, "display-message", "-p", "-t", name, "#{pane_pid}"], capture_output=True, text=True, check=True
        ).stdout.strip()
        self.process = psutil.Process(int(pid))

    def screen(self) -> str:
        return subprocess.run([*TMUX, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True).stdout

    def first_screen(self, text: str, limit: float = 120.0) -> float:
        """Seconds from start until `text` is on the screen."""
        while text not in self.screen():
            if time.perf_counter() - self.started > limit:
                raise RuntimeError(f"{text!r} never showed:\n{self.screen()}")
            time.sleep(0.02)
        return time.perf_counter() - self.started

    def close(self) -> None:
        subprocess.run([*TMUX, "kill-session", "-t", self.name], capture_output=True)


def console_process_figures(folder: Path, counters: int, idle_seconds: float) -> None:
    if shutil.which("tmux") is None:
        print("  (tmux is not installed: console start-up and idle CPU skipped)")
        return
    env = {**env_for(folder), "TERM": "xterm-256color"}
    try:
        bare = Console("bare", [PYTHON, "-c", BARE_APP], env)
        try:
            bare_start = bare.first_screen("bare textual app ready")
            time.sleep(1.0)
            bare_cpu, _, bare_rss = sample(bare.process, idle_seconds)
        finally:
            bare.close()
        console = Console("console", [COMMAND], env)
        try:
            start = console.first_screen("✓ OK")  # a counter's row
            full = console.first_screen(f"Total {counters}")
            time.sleep(SETTLE)  # start-up's own events bring one more read, seconds at 100,000
            cpu, peak, rss = sample(console.process, idle_seconds)
        finally:
            console.close()
    finally:
        subprocess.run([*TMUX, "kill-server"], capture_output=True)  # the private server only
    print(
        f"  console start-up, to counters on screen: {ms(start)} (summary line: {ms(full)})   "
        f"(bare Textual app: {ms(bare_start)}; {start / bare_start:.1f}x)"
    )
    print(
        f"  console idle, all {counters:,} in sync:    RSS {rss:.0f} MiB, CPU {cpu:.2f}% of one core over "
        f"{idle_seconds:.0f} s, from {SETTLE:.0f} s after start-up (busiest second {peak:.0f}%)   "
        f"(bare Textual app: RSS {bare_rss:.0f} MiB, CPU {bare_cpu:.2f}%)"
    )


def processes(counters: int, idle_seconds: float) -> None:
    accounts = counters // PER_ACCOUNT
    config = SimulatorConfig(latency=LatencyConfig(kind="lognormal", median_ms=300, sigma=0.7))
    with (
        tempfile.TemporaryDirectory(prefix="bench-daemon-") as tmp,
        simulator(SEED, accounts, PER_ACCOUNT, config) as (url, sim_stats),
    ):
        busy, idle = Path(tmp) / "busy", Path(tmp) / "idle"
        busy.mkdir(), idle.mkdir()
        asyncio.run(seeded(busy, counters))
        shutil.copy(busy / "metrika.db", idle / "metrika.db")
        mark_in_sync(idle / "metrika.db")

        daemon = Daemon(busy, url)
        try:
            planned = wait_for_line(daemon.out, f"startup: queued {counters}")
            time.sleep(2.0)
            before, t0 = sim_stats()["ok"], time.perf_counter()
            cpu, _, rss = sample(daemon.process, idle_seconds)
            rate = (sim_stats()["ok"] - before) / (time.perf_counter() - t0)
        finally:
            daemon.stop()
        print(f"  daemon, start to a planned pass of {counters:,}: {ms(planned)}")
        print(
            f"  daemon working the pass (simulator):  RSS {rss:.0f} MiB, CPU {cpu:.1f}% of one core, "
            f"{rate:.1f} requests/s over {idle_seconds:.0f} s"
        )

        daemon = Daemon(idle, url)
        try:
            wait_for_line(daemon.out, "daemon started")
            time.sleep(2.0)
            cpu, peak, rss = sample(daemon.process, idle_seconds)
        finally:
            daemon.stop()
        python = subprocess.Popen([PYTHON, "-c", "import time; time.sleep(60)"])
        try:
            time.sleep(1.0)
            *_, base_rss = sample(psutil.Process(python.pid), 1.0)
        finally:
            python.kill()
            python.wait()
        print(
            f"  daemon idle, all {counters:,} in sync:     RSS {rss:.0f} MiB, CPU {cpu:.2f}% of one core over "
            f"{idle_seconds:.0f} s (busiest second {peak:.0f}%)   (idle Python: RSS {base_rss:.0f} MiB)"
        )
        metrics_cost(idle, url, counters, idle_seconds, bare_cpu=cpu)


#: how often the benchmark scrapes /metrics (Prometheus's own default is every minute; 15 s is common)
SCRAPE_EVERY = (15.0, 5.0)


def metrics_cost(folder: Path, url: str, counters: int, idle_seconds: float, *, bare_cpu: float) -> None:
    """The idle daemon again, serving /metrics and scraped every few seconds (the scraper is
    this process: its CPU is not the daemon's), against the same daemon without (`bare_cpu`)."""
    import threading
    import urllib.request

    for every in SCRAPE_EVERY:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        daemon = Daemon(folder, url, "--metrics-port", str(port))
        took: list[float] = []
        size = 0
        stop = threading.Event()

        def scraper() -> None:
            nonlocal size
            while not stop.wait(every if took else 0):
                t0 = time.perf_counter()
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:
                    size = len(answer.read())
                took.append(time.perf_counter() - t0)

        try:
            wait_for_line(daemon.out, "daemon started")
            time.sleep(2.0)
            thread = threading.Thread(target=scraper, daemon=True)
            thread.start()
            time.sleep(1.0)  # the first scrape reads the engine's snapshot in full: start-up's cost
            cpu, peak, rss = sample(daemon.process, idle_seconds)
            stop.set()
            thread.join(30)
        finally:
            daemon.stop()
        print(
            f"  daemon idle with /metrics scraped every {every:.0f} s: CPU {cpu:.2f}% of one core over "
            f"{idle_seconds:.0f} s (+{cpu - bare_cpu:.2f} points on the daemon without; busiest second "
            f"{peak:.0f}%), RSS {rss:.0f} MiB; {len(took)} scrapes, median {ms(statistics.median(took))} "
            f"(first, a full read of {counters:,} counters: {ms(took[0])}), {size / 1024:.1f} KiB each"
        )


def console_processes(sizes: list[int], idle_seconds: float) -> None:
    """The real console in tmux over a store of each size, every counter in sync."""
    for counters in sizes:
        print(f"\nTHE CONSOLE, {counters:,} counters")
        with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
            asyncio.run(seeded(Path(tmp), counters))
            mark_in_sync(Path(tmp) / "metrika.db")
            console_process_figures(Path(tmp), counters, idle_seconds)


def main(args) -> None:
    print(f"machine: {machine()}")
    for counters in args.sizes:
        print(f"\n{counters:,} COUNTERS")
        asyncio.run(store_figures(counters))
        if not args.skip_console:
            asyncio.run(console_figures(counters, args.burst, args.rounds, args.idle_seconds))
    print(f"\nTHE PROCESSES, {args.daemon_counters:,} counters")
    processes(args.daemon_counters, args.idle_seconds)
    if not args.skip_console:
        # one re-read of the engine (each 60 s) inside the window
        console_processes(args.console_sizes, max(args.idle_seconds, 65.0))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",") if x],
        default=[10_000, 100_000],
        help="counters, comma-separated (empty: the processes only)",
    )
    parser.add_argument("--daemon-counters", type=int, default=10_000)
    parser.add_argument(
        "--console-sizes",
        type=lambda s: [int(x) for x in s.split(",") if x],
        default=[10_000, 100_000],
        help="counters for the real console in tmux, comma-separated",
    )
    parser.add_argument("--burst", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3, help="reconcile rounds per size")
    parser.add_argument("--idle-seconds", type=float, default=30.0, help="how long idle CPU is measured")
    parser.add_argument("--skip-console", action="store_true", help="no Textual: store, CLI and daemon only")
    main(parser.parse_args())
