"""SIGTERM, SIGINT and SIGHUP to the console mid-pass, on a real terminal: it stops like `q`
(running jobs finish within a short grace or are given back), leaves no lease behind,
gives the terminal back as it found it (no alternate screen, mouse reporting or hidden
cursor left on) and exits 0; a hang-up (the terminal gone) does the same, quietly."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metrika_tui.simulator import LatencyConfig, Simulator, SimulatorConfig, World

from .terminal import Terminal, terminal_restored

COMMAND = [sys.executable, "-m", "metrika_tui"]


def peek(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def leases_of(db: Path, pid: int) -> int:
    return peek(db, f"SELECT COUNT(*) FROM jobs WHERE status = 'running' AND owner_pid = {pid}")[0][0]


def leases_left(db: Path) -> int:
    return peek(db, "SELECT COUNT(*) FROM jobs WHERE status = 'running' OR lease_owner IS NOT NULL")[0][0]


@pytest.fixture
def busy(make_env):
    """A simulator slow enough (0.6 s an answer) that a pass of 18 counters by 6 workers takes
    a while, the accounts added; yields the environment."""
    world = World.generate(seed=131, accounts=3, counters_per_account=6)
    sim = Simulator(world, SimulatorConfig(latency=LatencyConfig(kind="fixed", median_ms=600.0)))
    with sim.serve_in_thread(host="127.0.0.1", port=0) as url:
        env = make_env(url) | {"METRIKA_WORKERS": "6"}
        for token in world.tokens:
            subprocess.run(
                [*COMMAND, "accounts", "add"], input=token, env=env, text=True, check=True, capture_output=True
            )
        yield env


def console_mid_pass(env: dict) -> Terminal:
    """The console, once it holds leases (its start-up pass is running)."""
    term = Terminal([], env)
    db = Path(env["METRIKA_DB"])
    deadline = time.monotonic() + 30
    while not (db.exists() and _holds(db, term.pid)):
        assert time.monotonic() < deadline and term.proc.poll() is None, term.output()[-2000:]
        time.sleep(0.1)
    return term


def _holds(db: Path, pid: int) -> bool:
    try:
        return leases_of(db, pid) > 0
    except sqlite3.OperationalError:  # not created yet
        return False


@pytest.mark.slow
@pytest.mark.timeout(90)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_stop_signal_mid_pass_gives_the_leases_back_and_the_terminal_back(busy, sig):
    term = console_mid_pass(busy)
    try:
        held = leases_of(Path(busy["METRIKA_DB"]), term.pid)
        signalled = time.monotonic()
        term.send(sig)
        code = term.wait(20)
        took = time.monotonic() - signalled
        output = term.output()
    finally:
        term.close()
    assert held > 0
    assert code == 0, output[-2000:]
    assert took < 10  # the grace is 5 s
    assert leases_left(Path(busy["METRIKA_DB"])) == 0
    assert terminal_restored(output) == []
    assert "Traceback" not in output


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_a_hang_up_mid_pass_gives_the_leases_back_quietly(busy):
    term = console_mid_pass(busy)
    try:
        term.hang_up()  # the SSH connection drops: the terminal is gone, SIGHUP follows
        code = term.wait(20)
    finally:
        term.close()
    assert code == 0
    assert leases_left(Path(busy["METRIKA_DB"])) == 0
    log = Path(busy["METRIKA_DATA_DIR"]) / "logs" / "sync.log"
    assert not log.exists() or "Traceback" not in log.read_text()
