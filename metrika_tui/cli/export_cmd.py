"""`metrika-tui export daily|monthly`: the stored statistics as CSV or JSON Lines.

Rows stream from the store a batch at a time, so memory stays flat however many there are.
To stdout by default (a pipe into other tools); with --output the rows go to a temporary
file beside it, renamed over it only once complete, so a failed or stopped export leaves
nothing half-written. Every bad input is refused before a row is written.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import os
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from metrika_tui.cli.errors import EXIT_OK, EXIT_USAGE, CommandError
from metrika_tui.cli.session import run_with_engine
from metrika_tui.engine.contract import CommandEngine
from metrika_tui.engine.export import (
    EXPORT_COLUMNS,
    ExportQuery,
    ExportRequestError,
    Grain,
    Row,
    check_export,
    export_batches,
    export_count,
)
from metrika_tui.settings import Settings
from metrika_tui.text import dumps, visible
from metrika_tui.timefmt import duration

#: the progress line: how often it changes on a terminal, and how often a line is added elsewhere
PROGRESS_ON_TERMINAL = 0.5
PROGRESS_IN_LOG = 10.0
#: how long an export runs before its progress is shown (a short one just says it is done)
PROGRESS_AFTER = 1.0
#: the signals that stop an export (its exit code: 128 + the signal's number, as a shell says)
_STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run_export(settings: Settings, args: argparse.Namespace) -> int:
    query = _query(args)
    fmt = args.format or ("jsonl" if (args.output or "").endswith((".jsonl", ".ndjson")) else "csv")
    to_file = args.output not in (None, "-")
    stopped: list[signal.Signals] = []
    with _destination(args.output if to_file else None) as (stream, commit):
        rows = _JsonLines(stream, query.grain) if fmt == "jsonl" else _Csv(stream, query.grain)
        progress = _Progress(args.output if to_file else None)

        async def body(engine: CommandEngine) -> int:
            async with _stopped_by_signals(stopped):
                try:
                    await check_export(engine, query)
                except ExportRequestError as exc:
                    raise CommandError(str(exc), EXIT_USAGE) from None
                if to_file:
                    progress.total = await export_count(engine, query)
                async with contextlib.aclosing(export_batches(engine, query)) as batches:
                    async for batch in batches:
                        rows.write(batch)
                        progress.advance(len(batch))
            return EXIT_OK

        try:
            code = run_with_engine(settings, body)
        except asyncio.CancelledError:
            if not stopped:
                raise
            where = "nothing written to " + args.output if to_file else "the output stops short"
            raise CommandError(f"stopped by {stopped[0].name}: {where}", 128 + stopped[0]) from None
        except BrokenPipeError:  # the reader went away (`| head`): not an error of ours
            _silence_stdout()
            return EXIT_OK
        stream.flush()
        commit()
    progress.done(query.grain)
    return code


def _query(args: argparse.Namespace) -> ExportQuery:
    first = args.first.first if args.first else None
    last = args.last.last if args.last else None
    if first and last and first > last:
        raise CommandError(f"--from {first} is after --to {last}: nothing lies between them", EXIT_USAGE)
    ids = frozenset(args.counter_ids) if args.counter_ids else None
    return ExportQuery(args.grain, counter_ids=ids, account_id=args.account_id, first=first, last=last)


class _Csv:
    """The header row, then one row per stored row; names made visible (they are text for a
    terminal or a spreadsheet), quoting left to the csv module."""

    def __init__(self, stream: TextIO, grain: Grain) -> None:
        self._writer = csv.writer(stream, lineterminator="\n")
        self._writer.writerow(EXPORT_COLUMNS[grain])
        self._counter: int | None = None
        self._names: tuple[str, str, str] = ("", "", "")

    def write(self, batch: Sequence[Row]) -> None:
        out = []
        for counter_id, name, site, login, *figures, sampled in batch:
            if counter_id != self._counter:  # a counter's rows come together: its names once
                self._counter, self._names = counter_id, (visible(name), visible(site), visible(login))
            out.append((counter_id, *self._names, *figures, "true" if sampled else "false"))
        self._writer.writerows(out)


class _JsonLines:
    """One JSON object a line with the CSV's keys; the names exact (JSON escapes what a
    terminal would act on)."""

    def __init__(self, stream: TextIO, grain: Grain) -> None:
        self._stream = stream
        self._keys = EXPORT_COLUMNS[grain]

    def write(self, batch: Sequence[Row]) -> None:
        keys = self._keys
        self._stream.write("".join(dumps(dict(zip(keys, (*row[:-1], bool(row[-1]))))) + "\n" for row in batch))


@contextlib.contextmanager
def _destination(output: str | None) -> Iterator[tuple[TextIO, Callable[[], None]]]:
    """(a UTF-8 stream, commit). stdout as it comes; or a temporary file beside `output`,
    renamed over it by commit() and removed if anything fails first."""
    if output is None:
        stream = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="", write_through=False)
        try:
            yield stream, lambda: None
        finally:
            with contextlib.suppress(OSError, ValueError):  # a broken pipe: stdout is /dev/null by now
                stream.detach()  # flushes; sys.stdout stays open
        return
    target = Path(output).expanduser()
    if target.is_dir():
        raise CommandError(f"--output {output}: is a folder; name a file", EXIT_USAGE)
    if not target.parent.is_dir():
        raise CommandError(f"--output {output}: its folder {target.parent} does not exist", EXIT_USAGE)
    try:
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        raise CommandError(f"--output {output}: cannot write there ({exc.strerror})", EXIT_USAGE) from None
    done = False
    try:
        with open(fd, "w", encoding="utf-8", newline="") as stream:

            def commit() -> None:
                nonlocal done
                stream.flush()
                os.fchmod(fd, _mode_for(target))
                os.replace(temporary, target)
                done = True

            yield stream, commit
    finally:
        if not done:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def _mode_for(target: Path) -> int:
    """The mode the file would have had from a shell's `>`: an existing file's, else the umask's."""
    with contextlib.suppress(OSError):
        return target.stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.asynccontextmanager
async def _stopped_by_signals(stopped: list[signal.Signals]) -> AsyncIterator[None]:
    """SIGINT, SIGTERM and SIGHUP cancel the export (the task entering this): the store is closed
    and the temporary file removed on the way out; `stopped` says which signal."""
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    if task is None:
        raise RuntimeError("the export runs outside a task")

    def stop(sig: signal.Signals) -> None:
        stopped.append(sig)
        task.cancel()

    for sig in _STOPPING:
        loop.add_signal_handler(sig, stop, sig)
    try:
        yield
    finally:
        for sig in _STOPPING:
            loop.remove_signal_handler(sig)


def _silence_stdout() -> None:
    """The reader of our stdout is gone: point it at /dev/null so exit's flush is quiet."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


class _Progress:
    """On stderr, for an export to a file: rows written of the total, once it runs long (on a
    terminal one line redrawn, else a line every few seconds); at the end, what was written."""

    def __init__(self, output: str | None) -> None:
        self.output = output
        self.total: int | None = None
        self.rows = 0
        self._started = time.monotonic()
        self._next = self._started + PROGRESS_AFTER  # when the line is shown (again)
        self._drawn = False

    def advance(self, rows: int) -> None:
        self.rows += rows
        now = time.monotonic()
        if self.output is None or now < self._next:
            return
        terminal = sys.stderr.isatty()
        self._next = now + (PROGRESS_ON_TERMINAL if terminal else PROGRESS_IN_LOG)
        share = f" ({100 * self.rows / self.total:.0f}%)" if self.total else ""
        line = f"exporting: {self.rows:,} of {self.total:,} rows{share}, {duration(now - self._started)}"
        if terminal:
            print(f"\r{line}\x1b[K", end="", file=sys.stderr, flush=True)
            self._drawn = True
        else:
            print(line, file=sys.stderr, flush=True)

    def done(self, grain: str) -> None:
        if self.output is None:
            return
        if self._drawn:
            print(file=sys.stderr)
        seconds = time.monotonic() - self._started
        print(f"exported {self.rows:,} {grain} rows to {visible(self.output)} in {seconds:.1f}s", file=sys.stderr)
