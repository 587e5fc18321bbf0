"""Several hosts on one machine: `metrika-tui` processes on one database, each sending from a
loopback address of its own (127.0.0.2, .3, ...) under a host id of its own (host_cli.py),
their output in files (a pipe nobody reads would fill up and stall a daemon)."""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

HOST_CLI = [sys.executable, str(Path(__file__).with_name("host_cli.py"))]


@dataclass
class Host:
    """One running `metrika-tui` of a host, its output in files."""

    address: str
    popen: subprocess.Popen[bytes]
    out: Path
    err: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    def finish(self, timeout: float) -> int:
        """Wait for it to end on its own; its exit code (no traceback allowed)."""
        code = self.popen.wait(timeout)
        assert "Traceback" not in self.output(), self.output()
        return code

    def stop(self, timeout: float = 40) -> int:
        """SIGTERM, then as `finish`."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        return self.finish(timeout)

    def kill(self) -> None:
        self.popen.kill()
        self.popen.wait(10)


@dataclass
class Hosts:
    """Starts `metrika-tui` processes on one environment, as the host of a given address."""

    env: dict[str, str]
    folder: Path
    started: list[Host] = field(default_factory=list)

    def env_of(self, address: str) -> dict[str, str]:
        return self.env | {
            "METRIKA_SOURCE_ADDRESS": address,
            "MULTIHOST_ID": f"host-{address}",
            "METRIKA_LOG_FILE": str(self.folder / f"sync-{address}.log"),
        }

    def start(self, address: str, *args: str) -> Host:
        n = len(self.started) + 1
        out, err = (self.folder / f"host{n:02d}-{address}.{name}" for name in ("out", "err"))
        with out.open("w") as stdout, err.open("w") as stderr:
            popen = subprocess.Popen(
                [*HOST_CLI, *args], env=self.env_of(address), stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr
            )
        self.started.append(Host(address, popen, out, err))
        return self.started[-1]

    def run(self, address: str, *args: str, stdin: str = "", timeout: float = 90) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*HOST_CLI, *args], input=stdin, capture_output=True, text=True, env=self.env_of(address), timeout=timeout
        )
        assert "Traceback" not in done.stdout + done.stderr, done.stderr
        return done

    def kill_the_rest(self) -> None:
        """A test that failed half-way leaves no process of its own behind."""
        for host in self.started:
            if host.popen.poll() is None:
                host.kill()
