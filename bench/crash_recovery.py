"""Benchmark: the time from a crash to the work going on, this tree against a baseline tree
(by default the commit this branch started from) in the same run. Prints figures; not a test.

Three crashes, each on a fresh database of 2 accounts x 6 counters served by the simulator
(a process of its own, every answer 300 ms), each run once by the baseline and once by this
tree, `metrika-tui` itself run as processes, the way users run it:

- same host: a `metrika-tui --headless` daemon is SIGKILLed mid-pass, holding leases; a
  `metrika-tui sync` is started at once;
- other host: a process on another host claims 3 jobs (the lease its version writes: the
  baseline's 120 s, this tree's 30 s with a heartbeat) and dies at once, never renewing;
  a `metrika-tui sync` is started at once;
- SSH drop: the console runs on a pseudo-terminal mid-pass, and the terminal's other end is
  closed (the kernel hangs it up and sends SIGHUP, as when an SSH connection drops); a
  `metrika-tui sync` is started at once.

Measured from the crash: until the first job the crashed process held runs again (or is done),
until the sync has finished the pass, and what the sync wrote on stderr; for the SSH drop also
how the console ended and how many leases it left.

    .venv/bin/python bench/crash_recovery.py [--baseline REV]

~7 min (the baseline waits out its 120 s leases three times).
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, simulator

from metrika_tui.simulator import LatencyConfig, SimulatorConfig, World

SEED, ACCOUNTS, PER_ACCOUNT = 77, 2, 6
CONFIG = SimulatorConfig(latency=LatencyConfig(kind="fixed", median_ms=300.0))
#: makes a pseudo-terminal the controlling terminal, then becomes `python -m metrika_tui ARGS`
LAUNCH = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0);"
    " os.execv(sys.executable, [sys.executable, '-m', 'metrika_tui', *sys.argv[1:]])"
)


@dataclass
class Tree:
    """A metrika-tui source tree to run, first on the import path."""

    name: str
    path: Path

    def env(self, folder: Path, url: str) -> dict[str, str]:
        """Its environment; run it from `folder` (`python -m` puts the working folder first)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("METRIKA_", "APP_"))}
        return env | {
            "PYTHONPATH": str(self.path),
            "METRIKA_API_URL": url,
            "METRIKA_DB": str(folder / "m.db"),
            "METRIKA_DATA_DIR": str(folder / "data"),
            "METRIKA_CONFIG": str(folder / "none.toml"),
            "METRIKA_CACHE_DIR": str(folder / "cache"),
            "METRIKA_WORKERS": "4",
            "NO_COLOR": "1",
            "TERM": "xterm-256color",
        }


@dataclass
class Recovery:
    crash: str
    tree: str
    first_back: float  # seconds from the crash until a job the crashed process held ran again
    pass_done: float  # until the sync finished the pass
    sync_said: str  # what it wrote on stderr (its wait lines), or ""
    note: str = ""


def run(tree: Tree, env: dict, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "metrika_tui", *args],
        env=env,
        input=stdin,
        text=True,
        capture_output=True,
        timeout=300,
        cwd=here(env),
    )


def here(env: dict) -> Path:
    """Where a process of this environment runs: its folder, not this tree's."""
    return Path(env["METRIKA_DB"]).parent


def peek(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def held_by(db: Path, pid: int) -> list[int]:
    try:
        return [
            r[0]
            for r in peek(db, "SELECT id FROM jobs WHERE status = 'running' AND lease_owner LIKE ?", (f"%:{pid}:w%",))
        ]
    except sqlite3.OperationalError:
        return []


def wait_holding(db: Path, pid: int, at_least: int = 3) -> list[int]:
    deadline = time.monotonic() + 60
    while len(ids := held_by(db, pid)) < at_least:
        if time.monotonic() > deadline:
            raise RuntimeError(f"process {pid} never held {at_least} leases")
        time.sleep(0.05)
    return ids


def recover(tree: Tree, env: dict, held: list[int], dead_owner: str, crashed_at: float) -> tuple[float, float, str]:
    """Start `sync` now; (seconds until a held job runs again, until the pass is done, the first
    thing it said before that)."""
    db = Path(env["METRIKA_DB"])
    err_path = Path(env["METRIKA_DATA_DIR"]).parent / f"sync-{time.monotonic_ns()}.err"
    with err_path.open("w") as err:
        sync = subprocess.Popen(
            [sys.executable, "-m", "metrika_tui", "sync"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=here(env),
        )
    marks = ",".join("?" * len(held))
    first = None
    while first is None:
        back = peek(
            db,
            f"SELECT COUNT(*) FROM jobs WHERE id IN ({marks}) AND (status = 'done' OR"
            " (status = 'running' AND lease_owner NOT LIKE ?))",
            (*held, f"{dead_owner}%"),
        )[0][0]
        if back:
            first = time.monotonic() - crashed_at
        elif time.monotonic() - crashed_at > 300:
            raise RuntimeError("nothing came back in 5 minutes")
        else:
            time.sleep(0.05)
    sync.wait(300)
    said = " / ".join(line.strip() for line in err_path.read_text().splitlines() if line.strip())
    return first, time.monotonic() - crashed_at, said


def same_host(tree: Tree, env: dict) -> Recovery:
    db = Path(env["METRIKA_DB"])
    daemon = subprocess.Popen(
        [sys.executable, "-m", "metrika_tui", "--headless"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=here(env),
    )
    held = wait_holding(db, daemon.pid)
    daemon.kill()
    crashed = time.monotonic()
    daemon.wait()
    first, done, said = recover(tree, env, held, f"%:{daemon.pid}:", crashed)
    return Recovery(
        "same host: daemon SIGKILLed mid-pass", tree.name, first, done, said, f"{len(held)} leases left by the kill"
    )


def other_host(tree: Tree, env: dict) -> Recovery:
    db = Path(env["METRIKA_DB"])
    assert run(tree, env, "sync", "--force", "--no-wait").returncode == 0
    now = dt.datetime.now(dt.UTC).timestamp()
    ids = [r[0] for r in peek(db, "SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 3")]
    columns = {r[1] for r in peek(db, "PRAGMA table_info(jobs)")}
    with sqlite3.connect(db) as conn:  # what each version's claim writes, for a holder that then dies
        for n, job in enumerate(ids):
            if "heartbeat_at" in columns:  # this tree: a 30 s lease, renewed by heartbeat
                conn.execute(
                    "UPDATE jobs SET status = 'running', lease_owner = ?, lease_expires_at = ?,"
                    " started_at = ?, owner_host_id = 'another-host', owner_pid = 4121,"
                    " owner_started = 1000, heartbeat_at = ? WHERE id = ?",
                    (f"far-away:4121:w{n}", now + 30, now, now, job),
                )
            else:  # the baseline: a 120 s lease
                conn.execute(
                    "UPDATE jobs SET status = 'running', lease_owner = ?, lease_expires_at = ?,"
                    " started_at = ? WHERE id = ?",
                    (f"far-away:4121:w{n}", now + 120, now, job),
                )
    conn.close()
    crashed = time.monotonic()
    first, done, said = recover(tree, env, ids, "far-away:4121:", crashed)
    return Recovery("other host: a holder dies right after claiming", tree.name, first, done, said)


def ssh_drop(tree: Tree, env: dict) -> Recovery:
    db = Path(env["METRIKA_DB"])
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 35, 120, 0, 0))
    console = subprocess.Popen(
        [sys.executable, "-c", LAUNCH],
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        cwd=here(env),
    )
    os.close(slave)
    drained = threading.Thread(target=_drain, args=(master,), daemon=True)
    drained.start()
    held = wait_holding(db, console.pid)
    ended: dict[str, int] = {}

    def on_exit() -> None:  # how the console ended, and the leases it left at that moment
        ended["code"] = console.wait(60)
        ended["left"] = len(held_by(db, console.pid))

    watcher = threading.Thread(target=on_exit, daemon=True)
    watcher.start()
    os.close(master)  # the connection drops
    crashed = time.monotonic()
    first, done, said = recover(tree, env, held, f"%:{console.pid}:", crashed)
    watcher.join(60)
    code, left = ended.get("code"), ended.get("left")
    return Recovery(
        "SSH drop: the console's terminal hangs up",
        tree.name,
        first,
        done,
        said,
        f"console exit {code}, {len(held)} leases held at the drop, {left} left by it",
    )


def _imports(tree: Tree, env: dict) -> bool:
    """Whether a process of this environment imports this tree's metrika_tui."""
    where = subprocess.run(
        [sys.executable, "-c", "import metrika_tui; print(metrika_tui.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        cwd=here(env),
    ).stdout.strip()
    return Path(where).resolve().is_relative_to(tree.path.resolve())


def _drain(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return


def baseline_tree(rev: str, into: Path) -> Tree:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "metrika_tui"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return Tree(f"baseline ({rev[:7]})", into)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="the revision to compare with (default: where this branch left main)")
    args = parser.parse_args()
    rev = (
        args.baseline
        or subprocess.run(
            ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"], text=True, capture_output=True, check=True
        ).stdout.strip()
    )
    print(machine())
    world = World.generate(seed=SEED, accounts=ACCOUNTS, counters_per_account=PER_ACCOUNT)
    results: list[Recovery] = []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "baseline").mkdir()
        trees = [baseline_tree(rev, Path(tmp) / "baseline"), Tree("this tree", ROOT)]
        for scenario in (same_host, other_host, ssh_drop):
            for tree in trees:
                folder = Path(tmp) / f"{scenario.__name__}-{tree.path.name}"
                folder.mkdir()
                with simulator(SEED, ACCOUNTS, PER_ACCOUNT, CONFIG) as (url, _):
                    env = tree.env(folder, url)
                    assert _imports(tree, env), f"{tree.name} is not what runs"
                    for token in world.tokens:
                        assert run(tree, env, "accounts", "add", stdin=token + "\n").returncode == 0
                    result = scenario(tree, env)
                results.append(result)
                print(
                    f"  {result.crash} [{result.tree}]: back after {result.first_back:.1f} s, pass done after"
                    f" {result.pass_done:.1f} s; {result.note}; sync said: {result.sync_said or '(nothing)'}",
                    flush=True,
                )
                shutil.rmtree(folder, ignore_errors=True)
    print("\n| crash | before: back / pass done | after: back / pass done | ratio (back) |")
    print("| --- | --- | --- | --- |")
    for before, after in zip(results[::2], results[1::2]):
        print(
            f"| {before.crash} | {before.first_back:.1f} s / {before.pass_done:.1f} s | {after.first_back:.1f} s /"
            f" {after.pass_done:.1f} s | {before.first_back / max(after.first_back, 0.01):.0f}x |"
        )


if __name__ == "__main__":
    main()
