"""SIGTERM, SIGINT and SIGHUP to `sync` and `--headless --once` mid-pass: the pass stops like
the console does (running jobs finish within a short grace or go back to the queue), no lease
is left, the output says what happened (a hang-up: nothing, the terminal is gone), and the
next sync finishes the pass."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .terminal import Terminal
from .test_console_signals import busy, leases_left, leases_of  # noqa: F401 (a fixture)

COMMAND = [sys.executable, "-m", "metrika_tui"]


def start(env: dict, *args: str, out: Path) -> subprocess.Popen:
    with out.open("w") as sink:
        return subprocess.Popen(
            [*COMMAND, *args], env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT
        )


def holding(db: Path, pid: int, proc, limit: float = 30) -> int:
    deadline = time.monotonic() + limit
    while True:
        try:
            if (held := leases_of(db, pid)) > 0:
                return held
        except Exception:  # the database is not there yet
            pass
        assert time.monotonic() < deadline and proc.poll() is None, "it never held a lease"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
@pytest.mark.parametrize("command", [["sync"], ["--headless", "--once"]], ids=["sync", "once"])
def test_a_stop_signal_mid_pass_stops_it_and_gives_the_leases_back(busy, tmp_path, command, sig):
    db = Path(busy["METRIKA_DB"])
    out = tmp_path / "out.txt"
    proc = start(busy, *command, out=out)
    holding(db, proc.pid, proc)
    signalled = time.monotonic()
    proc.send_signal(sig)
    code = proc.wait(30)
    took = time.monotonic() - signalled
    text = out.read_text()

    assert "Traceback" not in text, text
    assert code == 1, text  # stopped mid-pass: counters are still queued
    assert took < 10  # the grace is 5 s
    assert leases_left(db) == 0
    name = signal.Signals(sig).name
    if command == ["sync"]:
        assert f"Stopped by {name}: " in text and f"Sync stopped by {name}" in text
        if sig != signal.SIGHUP:
            assert f"metrika-tui: {name}: stopping; running jobs get 5s, the rest go back to the queue" in text
    else:
        assert f"{name}: stopping; running jobs get 5s" in text and f"pass stopped by {name}: " in text

    if sig == signal.SIGTERM:
        again = subprocess.run([*COMMAND, "sync"], env=busy, capture_output=True, text=True, timeout=90)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "Already queued: " in again.stdout  # what the stopped pass gave back


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sync_on_a_terminal_that_hangs_up_stops_quietly_and_gives_the_leases_back(busy):
    db = Path(busy["METRIKA_DB"])
    term = Terminal(["sync"], busy)
    try:
        holding(db, term.pid, term.proc)
        term.hang_up()
        code = term.wait(30)
    finally:
        term.close()
    assert code == 1
    assert leases_left(db) == 0
