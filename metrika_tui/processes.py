"""Who holds a lease, and whether that process still lives: the owner of every lease.

A lease records its holder's host id, pid and process start time. Two processes with the
same host id see the same pids (one kernel boot, one pid namespace), so a holder there
whose pid is gone, or was reused by a process that started at another time, is dead for
certain: its leases are taken back at once, not after they run out. A holder with another
host id can only be judged by its heartbeat (the lease it keeps renewing).

Linux answers from /proc; elsewhere a pid is only checked for existence (no start time).
"""

from __future__ import annotations

import enum
import hashlib
import os
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path


class Liveness(enum.Enum):
    RUNNING = "running"
    STOPPED = "stopped"  # alive but frozen (SIGSTOP, ctrl+z, a debugger): it renews nothing
    GONE = "gone"  # no such process, a zombie, or its pid now belongs to another process


@dataclass(frozen=True, slots=True)
class ProcessId:
    """One process, as a lease names it."""

    host: str  # the host name, for people
    host_id: str  # where `pid` means this process (see `host_id`)
    pid: int
    started: float | None  # its start time (Unix seconds), None where the OS does not say

    @property
    def label(self) -> str:
        """`host:pid`, as event origins and lease owners spell a process."""
        return f"{self.host}:{self.pid}"


@cache
def this_process() -> ProcessId:
    """This process (computed once: host, pid and start time do not change)."""
    pid = os.getpid()
    return ProcessId(socket.gethostname(), host_id(), pid, start_time(pid))


def host_id() -> str:
    """A short id shared exactly by the processes that see each other's pids: the same
    machine id, kernel boot and pid namespace (a container is a host of its own)."""
    parts = [
        socket.gethostname(),
        _read("/etc/machine-id") or _read("/var/lib/dbus/machine-id") or "",
        _read("/proc/sys/kernel/random/boot_id") or "",
    ]
    try:
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:
        parts.append("")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def start_time(pid: int) -> float | None:
    """When `pid` started (Unix seconds, to the clock tick), from /proc; None if unknown."""
    stat = _read(f"/proc/{pid}/stat")
    boot = _boot_time()
    if stat is None or boot is None:
        return None
    fields = _stat_fields(stat)
    try:
        return round(boot + int(fields[19]) / os.sysconf("SC_CLK_TCK"), 2)
    except (IndexError, ValueError, OSError):
        return None


def liveness(pid: int, started: float | None) -> Liveness:
    """Whether the process `pid` that started at `started` still lives, on this host."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return _exists(pid)
    fields = _stat_fields(stat)
    state = fields[0] if fields else ""
    if state in ("Z", "X", "x"):
        return Liveness.GONE
    if started is not None and start_time(pid) not in (None, started):
        return Liveness.GONE  # the pid was reused
    return Liveness.STOPPED if state in ("T", "t") else Liveness.RUNNING


def _exists(pid: int) -> Liveness:
    """No /proc entry (another OS, or /proc hiding other users' processes): a signal 0 says
    whether the pid exists, not whether it was reused."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return Liveness.GONE
    except OSError:  # EPERM: it exists, under another user
        pass
    return Liveness.RUNNING


def _stat_fields(stat: str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces and
    parentheses), from the state (field 3) on."""
    return stat[stat.rfind(")") + 1 :].split()


@cache
def _boot_time() -> int | None:
    for line in (_read("/proc/stat") or "").splitlines():
        if line.startswith("btime "):
            return int(line.split()[1])
    return None


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
