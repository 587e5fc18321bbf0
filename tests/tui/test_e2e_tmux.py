"""End to end: the real `metrika-tui --demo` in tmux; press keys, read the screen, quit cleanly.

Skipped without tmux.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
COMMAND = Path(sys.executable).with_name("metrika-tui")


class Tmux:
    def __init__(self, tmp_path: Path) -> None:
        self.name = f"metrika-e2e-{uuid.uuid4().hex[:8]}"
        self.rc_file = tmp_path / "rc"
        self.env = {
            **os.environ,
            "METRIKA_DATA_DIR": str(tmp_path / "data"),
            "METRIKA_CONFIG": str(tmp_path / "none.toml"),
            "TERM": "xterm-256color",
        }

    def start(self, *args: str) -> None:
        command = f"{COMMAND} {' '.join(args)}; echo $? > {self.rc_file}"
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", self.name, "-x", "120", "-y", "35", command], env=self.env, check=True
        )

    def screen(self) -> str:
        result = subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True)
        return result.stdout

    def press(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def wait_for(self, text: str, limit: float = 30.0) -> str:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if text in (screen := self.screen()):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never showed; the screen:\n{self.screen()}")

    def exit_code(self, limit: float = 30.0) -> int:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.rc_file.exists() and self.rc_file.read_text().strip():
                return int(self.rc_file.read_text())
            time.sleep(0.2)
        raise AssertionError("the console did not exit")

    def kill(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def tmux(tmp_path):
    session = Tmux(tmp_path)
    yield session
    session.kill()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_demo_console_syncs_filters_and_quits_cleanly(tmux):
    tmux.start("--demo")
    tmux.wait_for("Total")
    tmux.wait_for("✓ OK", limit=60)  # the start-up pass synced the demo counters
    tmux.press("/")
    tmux.wait_for("filter: id, name")  # the input has focus once it shows
    time.sleep(0.3)
    tmux.press("-l", "zzz-no-such-counter")
    tmux.wait_for("0 of ")
    for _ in range(len("zzz-no-such-counter")):
        tmux.press("BSpace")
    tmux.press("Escape")  # an empty filter hides; the table has the keys again
    time.sleep(0.5)  # apart, or the terminal reads escape + f as alt+f
    tmux.press("f")
    screen = tmux.wait_for("queued ahead of the rest")
    assert "scheduler running" in screen
    tmux.press("p")
    tmux.wait_for("scheduler paused")
    tmux.press("q")
    assert tmux.exit_code() == 0


@pytest.mark.timeout(120)
def test_read_only_console_refuses(tmux):
    tmux.start("--demo", "--read-only")
    tmux.wait_for("Total")
    tmux.press("s")
    tmux.wait_for("read-only console")
    tmux.press("q")
    assert tmux.exit_code() == 0
