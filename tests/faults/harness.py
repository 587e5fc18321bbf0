"""Driving the real `metrika-tui` as processes, and reading a database the way a bystander does.

Processes write their output to files in the test's folder (a pipe nobody reads would fill
up and stall a daemon); `Proc.output()` reads it back, and every process that ended on its
own is checked for a traceback.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from metrika_tui.clock import ShiftingClock  # noqa: F401 (the fault tests' clock)
from metrika_tui.simulator import Simulator, SimulatorConfig, World

from .invariants import Figures, check_invariants_now

#: a first sync reads this many days (from the first of their month): small, so passes are quick
BACKFILL_DAYS = 10
COMMAND = [sys.executable, "-m", "metrika_tui"]
FAULTY_COMMAND = [sys.executable, str(Path(__file__).with_name("faulty_cli.py"))]


@dataclass
class Proc:
    """A running `metrika-tui` with its output in files."""

    popen: subprocess.Popen
    out: Path
    err: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> tuple[str, str]:
        return self.out.read_text(errors="replace"), self.err.read_text(errors="replace")

    def finish(self, timeout: float) -> tuple[int, str, str]:
        """Wait for it to end on its own; (exit code, stdout, stderr), with no traceback."""
        code = self.popen.wait(timeout)
        out, err = self.output()
        assert "Traceback" not in out + err, err
        return code, out, err

    def stop(self, timeout: float = 40) -> tuple[int, str, str]:
        """SIGTERM, then as `finish`."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        return self.finish(timeout)

    def kill(self) -> None:
        self.popen.kill()
        self.popen.wait(10)


@dataclass
class Processes:
    """Starts processes on one environment; numbers their output files."""

    env: dict[str, str]
    folder: Path
    started: int = 0
    procs: list[Proc] = field(default_factory=list)

    @property
    def db(self) -> Path:
        return Path(self.env["METRIKA_DB"])

    def start(self, *args: str, faults: dict[str, str] | None = None) -> Proc:
        """Start `metrika-tui ARGS`; with `faults`, faulty_cli.py with them in its environment."""
        self.started += 1
        out, err = (self.folder / f"proc{self.started:03d}.{name}" for name in ("out", "err"))
        with out.open("w") as stdout, err.open("w") as stderr:
            popen = subprocess.Popen(
                _command(faults) + list(args),
                env={**self.env, **(faults or {})},
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )
        self.procs.append(Proc(popen, out, err))
        return self.procs[-1]

    def kill_the_rest(self) -> None:
        """A test that failed half-way leaves no process of its own behind."""
        for proc in self.procs:
            if proc.popen.poll() is None:
                proc.kill()

    def run(
        self,
        *args: str,
        stdin: str = "",
        timeout: float = 90,
        env: dict[str, str] | None = None,
        faults: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess:
        """Run to the end (as `start`, `env` added to the environment); no traceback allowed."""
        proc = subprocess.run(
            _command(faults) + list(args),
            input=stdin,
            capture_output=True,
            text=True,
            env={**self.env, **(env or {}), **(faults or {})},
            timeout=timeout,
        )
        assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
        return proc

    def add_accounts(self, world: World) -> None:
        for token in world.tokens:
            added = self.run("accounts", "add", stdin=token + "\n")
            assert added.returncode == 0, added.stderr

    def status(self) -> dict:
        done = self.run("sync-status", "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def states(self) -> dict[int, str]:
        return {c["counter_id"]: c["state"] for a in self.status()["accounts"] for c in a["counters"]}


def _command(faults: dict[str, str] | None) -> list[str]:
    return FAULTY_COMMAND if faults else COMMAND


@dataclass
class Rig:
    """A world served on loopback, and processes on one database with its accounts added."""

    world: World
    sim: Simulator
    procs: Processes

    @property
    def db(self) -> Path:
        return self.procs.db

    def check(self, **options) -> Figures:
        """The shared invariants (see invariants.py) on this rig's database."""
        return check_invariants_now(self.db, self.world, backfill_days=BACKFILL_DAYS, **options)


@contextlib.contextmanager
def rig(
    folder: Path, make_env: Callable[[str], dict], world: World, config: SimulatorConfig | None = None, **env: str
) -> Iterator[Rig]:
    """Serve `world` in a thread, point an environment at it (plus `env`), add every account."""
    sim = Simulator(world, config or SimulatorConfig())
    with sim.serve_in_thread(host="127.0.0.1", port=0) as url:
        procs = Processes(make_env(url) | {"METRIKA_BACKFILL_DAYS": str(BACKFILL_DAYS), **env}, folder)
        try:
            procs.add_accounts(world)
            yield Rig(world, sim, procs)
        finally:
            procs.kill_the_rest()


# -- reading the database as a bystander (its own read-only connection; WAL: never blocks) --


def peek(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def live_jobs(db: Path) -> int:
    return peek(db, "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')")[0][0]


def done_jobs(db: Path) -> int:
    return peek(db, "SELECT COUNT(*) FROM jobs WHERE status = 'done'")[0][0]


def leases_held_by(db: Path, pid: int) -> int:
    """Running jobs whose lease names this process (owners are host:pid:wN)."""
    return peek(db, "SELECT COUNT(*) FROM jobs WHERE status = 'running' AND lease_owner LIKE ?", (f"%:{pid}:w%",))[0][0]


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def report(test: str, **figures) -> None:
    """Print a test's figures (seen with -s), and append them as a JSON line to
    $METRIKA_FAULT_REPORT when set: docs/reliability.md quotes these."""
    import os

    line = json.dumps({"test": test, **figures}, default=str)
    print(f"\nfigures {line}")
    if path := os.environ.get("METRIKA_FAULT_REPORT"):
        with open(path, "a") as out:
            out.write(line + "\n")
