"""Several hosts on one machine: `metrika-tui` processes on one database, each sending from a
loopback address of its own (127.0.0.2, .3, ...) under a host id of its own (host_cli.py),
their output in files (a pipe nobody reads would fill up and stall a daemon)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from faults.harness import Proc

HOST_CLI = [sys.executable, str(Path(__file__).with_name("host_cli.py"))]


@dataclass
class Host(Proc):
    """One running `metrika-tui` of a host (the address it sends from), its output in files."""

    address: str = ""


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
        self.started.append(Host(popen, out, err, address))
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
