"""One request pace for every metrika-tui process on the host, through a small locked file.

Metrika counts its 30 requests a second per client address, not per process: three
`--headless` daemons and a cron `sync` on one host share those 30. So the pacer's book
(`limits.PaceBook`: the next free slot, the sends of the last span) lives in a file every
process sending from that address opens (`locations.pace_file(source_address)`, mode 0600;
processes bound to another local address by `[api] source_address` are another host to the
API and keep a file of their own), one record per API address, and each booking is a
read-change-write of that file under `fcntl.flock`:

- the critical section is a read, a few list operations and a write of a few hundred bytes
  (timed by bench/multi_process.py: docs/performance.md), three times a request; the event loop takes the lock only
  if it is free, and waits for another process's in a worker thread, so a process descheduled
  while holding it never stalls another's event loop (one stopped holding it is passed by
  after LOCK_PATIENCE);
- a process that dies holding the lock loses it with its file descriptor (flock locks belong
  to the open file, which the kernel closes); what it had booked ages out within a span, and
  a slot it had booked but never used only delays the next one by one interval;
- moments are CLOCK_MONOTONIC (`time.monotonic()` on Linux, `mach_absolute_time` on macOS):
  one clock for the whole host, counted from boot, so one process's moments mean the same
  to another (tests/metrika/test_host_pace.py checks it against a child process). It starts
  again at each boot and stops during suspend, while the file outlives both; so the file
  also holds when the monotonic clock read zero on the wall clock, and a record made under
  another reading (a reboot, a resume, a stepped wall clock) is forgotten, not waited on.
  Two processes in different time namespaces (containers) sharing the file would forget
  each other's bookings: they pace as if alone;
- where the file cannot be used (no fcntl, a read-only home, a lock the file system
  refuses), the pacer says so once in the log and paces this process alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from metrika_tui.metrika.limits import PaceBook, RatePacer, Sleep
from metrika_tui.private import make_private_dir, open_private

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

MAGIC = b"MTP1"
HEADER = struct.Struct("<4sdI")  # magic, the wall clock when the monotonic clock read 0, records
RECORD = struct.Struct("<8sdI")  # address key, next free slot, sends; then their moments (d), their ids (Q)
#: a file whose zero moment differs from ours by more is from another boot (or a resume): forgotten.
#: Two readings of it in a row differ by microseconds, plus the wall clock's slewing (<= 0.5 ms a second)
SAME_BOOT = 1.0
#: records of other addresses are dropped once idle this long (their own users prune them sooner)
FORGET = 10.0
#: a larger file is not ours (or is damaged): start afresh
MAX_BYTES = 1 << 20
#: seconds a booking waits for a file another process holds (its work takes microseconds: a
#: holder this slow is stopped, ^Z or a debugger); then it is booked in this process alone
LOCK_PATIENCE = 1.0


def boot_moment() -> float:
    """The wall-clock time at which the monotonic clock read zero."""
    return time.time() - time.monotonic()


def address_of(base_url: str) -> str:
    """What the per-address quota is kept for: the API's host and port (`api-metrika.yandex.net:443`).
    Simulators on different ports are different servers, with quotas of their own."""
    url = httpx.URL(base_url)
    return f"{url.host.lower()}:{url.port or (443 if url.scheme == 'https' else 80)}"


class _Busy(Exception):
    """Another process holds the lock (non-blocking attempt)."""


class _Stuck(Exception):
    """Another process has held the lock longer than LOCK_PATIENCE."""


class HostPacer(RatePacer):
    """A `RatePacer` whose book is shared, through `path`, by every pacer of `address` on the host.

    The guarantees are `RatePacer`'s, across processes: slots `interval` apart whichever process
    books them, and no more than `rate` sends in any `1 s + margin` of the host's sends, each
    counted from when it really left. Processes sharing the file are expected to use the same
    rate and margin (each keeps to its own; the client's are the same everywhere).
    """

    def __init__(
        self,
        rate: float,
        *,
        path: Path,
        address: str,
        margin: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        boot: Callable[[], float] = boot_moment,
    ) -> None:
        super().__init__(rate, margin=margin, monotonic=monotonic, sleep=sleep)
        if fcntl is None:
            raise OSError("fcntl.flock is not available on this platform")
        self.path = path
        self._key = hashlib.sha256(address.encode()).digest()[:8]
        self._boot = boot
        self._fd: int | None = None
        self._pid = 0
        self._local = asyncio.Lock()  # this process's callers, one at a time on the slow path
        self._mutex = threading.Lock()  # our descriptor, one user at a time (see _locked)
        self._pending: dict[int, float] = {}  # sends that left while the file was busy
        self._flushes: set[asyncio.Task[None]] = set()
        self._shared = True
        self._stuck = False  # said so in the log
        #: how the lock went (bench/multi_process.py): taken at once on the event loop (fast:
        #: how many, their seconds under the lock in all, the longest), or found held and
        #: waited for in a thread (waited: how many, the longest wait and work)
        self.counts = {"fast": 0, "fast_seconds": 0.0, "fast_max": 0.0, "waited": 0, "waited_max": 0.0}
        with self._mutex:
            self._open()  # fails here (and the client falls back) if the file cannot be used

    # -- the pacer's two hooks ------------------------------------------------------------

    async def _change(self, change: Callable[[PaceBook, float], Any]) -> Any:
        if self._shared:
            try:
                async with self._local:
                    pending, self._pending = self._pending, {}
                    try:
                        return self._locked(change, pending, block=False)
                    except _Busy:  # another process holds the file: wait for it off the event loop
                        return await asyncio.to_thread(self._locked, change, pending, block=True)
            except _Stuck:
                if not self._stuck:
                    self._stuck = True
                    log.warning(
                        "%s has been locked by another process for over %g s (stopped?): booking "
                        "in this process alone until it is free",
                        self.path,
                        LOCK_PATIENCE,
                    )
            except OSError as error:
                self._give_up(error)
        return await super()._change(change)

    def _new_id(self) -> int:
        return int.from_bytes(os.urandom(8), "little")  # unique across processes, forks included

    def _mark_sent(self, ident: int) -> None:
        """Called from the HTTP client's trace hook, which cannot wait: written at once if the
        file is free, else by a task as soon as it is (until then, held in `_pending`)."""
        moment = self._monotonic()
        if not self._shared:
            self._book.mark_sent(ident, moment)
            return
        self._pending[ident] = moment
        if not self._local.locked():
            pending, self._pending = self._pending, {}
            try:
                self._locked(_nothing, pending, block=False)
                return
            except _Busy:
                self._pending = {**pending, **self._pending}
            except OSError as error:
                self._give_up(error)
                return
        try:
            task = asyncio.get_running_loop().create_task(self._change(_nothing))
        except RuntimeError:
            return  # no loop: the next booking carries it
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    @property
    def writing(self) -> bool:
        """Sends that left while the file was busy are still to be written to it (held, or being
        written): until then the other processes do not count them."""
        return bool(self._pending or self._flushes)

    def close(self) -> None:
        with self._mutex:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None

    # -- the file -------------------------------------------------------------------------

    def _open(self) -> int:
        """The file, opened by this process (after a fork the inherited descriptor would share
        its lock with the parent's: open our own)."""
        if self._fd is None or self._pid != os.getpid():
            make_private_dir(self.path.parent)
            self._fd = open_private(self.path, os.O_RDWR)
            self._pid = os.getpid()
        return self._fd

    def _locked(self, change: Callable[[PaceBook, float], Any], pending: dict[int, float], *, block: bool) -> Any:
        """Under the lock: read every record, record `pending` sends, apply `change` to ours, write."""
        started = time.perf_counter()
        # flock excludes other open files, not our own descriptor used twice: a thread of ours
        # (a booking whose caller was cancelled) may still be inside, so this lock comes first
        got = self._mutex.acquire(timeout=LOCK_PATIENCE) if block else self._mutex.acquire(blocking=False)
        if not got:
            raise _Stuck if block else _Busy
        try:
            fd = self._open()
            self._flock(fd, block)
            try:
                now = self._monotonic()
                boot = self._boot()
                books = self._read(fd, now, boot)
                book = books.setdefault(self._key, PaceBook())
                for ident, moment in pending.items():
                    book.mark_sent(ident, moment)
                result = change(book, now)
                self._write(fd, books, boot)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()
        self._stuck = False
        took, kind = time.perf_counter() - started, "waited" if block else "fast"
        self.counts[kind] += 1
        self.counts[f"{kind}_max"] = max(self.counts[f"{kind}_max"], took)
        if not block:
            self.counts["fast_seconds"] += took
        return result

    @staticmethod
    def _flock(fd: int, block: bool) -> None:
        """Take the file's lock: at once or _Busy; or (`block`) within LOCK_PATIENCE or _Stuck."""
        deadline = time.monotonic() + LOCK_PATIENCE
        pause = 0.0002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if not block:
                    raise _Busy from None
                if time.monotonic() > deadline:
                    raise _Stuck from None
            time.sleep(pause)
            pause = min(2 * pause, 0.005)

    def _read(self, fd: int, now: float, boot: float) -> dict[bytes, PaceBook]:
        size = os.fstat(fd).st_size
        if size < HEADER.size or size > MAX_BYTES:
            return {}
        data = os.pread(fd, size, 0)
        try:
            magic, their_boot, records = HEADER.unpack_from(data)
            if magic != MAGIC or abs(their_boot - boot) > SAME_BOOT:
                return {}  # another boot's moments (or not our file): nothing to wait for
            books: dict[bytes, PaceBook] = {}
            offset = HEADER.size
            for _ in range(records):
                key, next_free, count = RECORD.unpack_from(data, offset)
                offset += RECORD.size
                book = PaceBook(
                    next_free,
                    list(struct.unpack_from(f"<{count}d", data, offset)),
                    list(struct.unpack_from(f"<{count}Q", data, offset + 8 * count)),
                )
                offset += 16 * count
                book.forget(now - FORGET)
                if book.moments or next_free > now - FORGET:
                    books[key] = book
            return books
        except struct.error:
            return {}

    def _write(self, fd: int, books: dict[bytes, PaceBook], boot: float) -> None:
        parts = [HEADER.pack(MAGIC, boot, len(books))]
        for key, book in books.items():
            count = len(book.moments)
            parts += [
                RECORD.pack(key, book.next_free, count),
                struct.pack(f"<{count}d", *book.moments),
                struct.pack(f"<{count}Q", *book.ids),
            ]
        data = b"".join(parts)
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))  # another process may have written more

    def _give_up(self, error: OSError) -> None:
        """The file failed us mid-run: pace this process alone from now on (said once)."""
        if self._shared:
            self._shared = False
            warn_alone(self.path, error)


def _nothing(book: PaceBook, now: float) -> None:
    return None


def warn_alone(path: Path | None, why: object) -> None:
    log.warning(
        "pacing requests for this process only (%s%s): other metrika-tui processes on this host "
        "are not counted, and together they may exceed the API's 30 requests/s per address",
        f"{path}: " if path else "",
        why,
    )


def make_pacer(rate: float, *, margin: float, address: str | None, path: Path | None) -> RatePacer:
    """A pacer shared by every process on the host for `address` through `path`; with either
    None, or when the file cannot be used (one warning), a pacer of this process alone."""
    if address is None or path is None:
        return RatePacer(rate, margin=margin)
    try:
        return HostPacer(rate, margin=margin, path=path, address=address)
    except OSError as error:
        warn_alone(path, error)
        return RatePacer(rate, margin=margin)
