"""`metrika-tui --headless`: the scheduler and worker pool with no UI, under plain asyncio.

For servers, systemd, supervisor and containers. One line per event on stdout and in the
log file (text, or JSON for collectors). SIGTERM/SIGINT stop planning, let running jobs
finish within a grace period and give back the rest; SIGHUP reloads the configuration.
Textual is never imported on this path (a test checks it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from metrika_tui.engine.passes import PlanResult
from metrika_tui.engine.waits import PassWait, pass_max_wait
from metrika_tui.events import Event, Kind, Level, format_event
from metrika_tui.jobs import Outcome, Trigger
from metrika_tui.private import make_private_dir, open_private
from metrika_tui.settings import Settings, SettingsError
from metrika_tui.stopping import STOP_GRACE_SECONDS as PASS_STOP_GRACE
from metrika_tui.stopping import PassStop, stop_signals
from metrika_tui.timefmt import duration

#: how long running jobs may take to finish after SIGTERM before their leases are given back
STOP_GRACE_SECONDS = 20.0


class EventWriter:
    """Writes each event to stdout and appends it to the log file, line-buffered."""

    def __init__(self, settings: Settings, stdout: TextIO | None = None) -> None:
        self.fmt = settings.log_format
        self.stdout = stdout or sys.stdout
        path = Path(settings.log_file)
        try:  # private (0700 folder, 0600 file), and never appended through a symlink
            make_private_dir(path.parent)
            fd = open_private(path, os.O_WRONLY | os.O_APPEND)
            self.file: TextIO | None = open(fd, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (open for the daemon's life)
        except OSError as exc:
            raise SettingsError(f"log-file {path}: cannot append ({exc.strerror})") from None

    def __call__(self, event: Event) -> None:
        if event.level is Level.DEBUG:
            return
        line = format_event(event, self.fmt)
        print(line, file=self.stdout, flush=True)
        if self.file:
            self.file.write(line + "\n")

    def close(self) -> None:
        if self.file:
            self.file.close()
            self.file = None


def run_headless(settings: Settings, *, once: bool = False, reload: Callable[[], Settings] | None = None) -> int:
    """Run the daemon (or one pass). `reload` re-reads the settings on SIGHUP."""
    from metrika_tui.demo import demo_simulator

    if once:
        with demo_simulator(settings) as resolved:
            return asyncio.run(_run_once(resolved))
    from metrika_tui.metrics import serving_metrics

    with serving_metrics(settings) as metrics, demo_simulator(settings) as resolved:  # a port in use: at once
        return asyncio.run(_run_daemon(resolved, reload or (lambda: settings), metrics))


async def _run_daemon(settings: Settings, reload: Callable[[], Settings], metrics=None) -> int:
    from metrika_tui.demo import seed_demo
    from metrika_tui.engine.runtime import Runtime

    writer = EventWriter(settings)
    runtime = Runtime(settings, on_engine=metrics.exporter.attach if metrics else None, prepare=seed_demo)
    runtime.subscribe(writer)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    reloads: list[asyncio.Task] = []

    def on_stop(signame: str) -> None:
        if not stop.is_set():
            writer(Event(Kind.INFO, f"{signame}: stopping; running jobs get {STOP_GRACE_SECONDS:.0f}s"))
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_stop, sig.name)
    loop.add_signal_handler(signal.SIGHUP, lambda: reloads.append(loop.create_task(_reload(runtime, reload))))
    try:
        await runtime.start()
        nxt = runtime.next_scheduled_sync_at
        next_at = f"next at {nxt.astimezone(settings.tz):%H:%M %Z}" if nxt else "none scheduled"
        writer(
            Event(
                Kind.INFO,
                f"daemon started: {settings.workers} workers, a pass every {settings.interval_minutes}"
                f" min ({settings.timezone}), {next_at};"
                f" db {runtime.describe_db}{f'; metrics on {metrics.url}' if metrics else ''}",
            )
        )
        await stop.wait()
    finally:
        if metrics:
            metrics.exporter.detach()
        await runtime.stop(grace=STOP_GRACE_SECONDS)
        writer(Event(Kind.INFO, "daemon stopped"))
        writer.close()
    return 0


async def _reload(runtime, reload: Callable[[], Settings]) -> None:
    current = runtime.settings
    try:
        fresh = reload()
    except SettingsError as exc:
        runtime.engine.bus.emit(Kind.ERROR, f"reload refused, keeping the old settings: {exc}", level=Level.ERROR)
        return
    if fresh.db_path != current.db_path:
        runtime.engine.bus.emit(
            Kind.WARNING, "reload: a new database path needs a restart; kept the old one", level=Level.WARNING
        )
    if (fresh.metrics_port, fresh.metrics_address) != (current.metrics_port, current.metrics_address):
        runtime.engine.bus.emit(
            Kind.WARNING, "reload: a new metrics port or address needs a restart; kept the old", level=Level.WARNING
        )
    # the database and the demo's simulator stay; everything else may change
    if current.demo:  # the demo's simulator stands in for the Metrika API and Yandex ID both
        fresh = fresh.replace(
            api_url=current.api_url,
            oauth_url=current.oauth_url,
            login_url=current.login_url,
            oauth_client_id=current.oauth_client_id,
            oauth_client_secret=current.oauth_client_secret,
        )
    await runtime.reload(fresh.replace(db_path=current.db_path))


async def _run_once(settings: Settings) -> int:
    """`--headless --once`: plan one pass, work it to completion, exit 0 or 1 (for cron).

    Like `sync`, it waits out a quota that frees within `pass_max_wait` (a spent report
    budget: the window and a minute), one line per wait; a deferral beyond it (the daily
    quota) ends the pass at once, those counters still queued (exit 1)."""
    from metrika_tui.demo import seed_demo
    from metrika_tui.engine.runtime import Runtime

    writer = EventWriter(settings)
    runtime = Runtime(settings, schedule=False, workers=False, prepare=seed_demo)
    runtime.subscribe(writer)

    def request_stop() -> None:
        if runtime.engine is not None:
            runtime.engine.request_stop(PASS_STOP_GRACE)

    # like `sync`: finish or give back, say what was done
    stop = PassStop(lambda words: writer(Event(Kind.INFO, words)), request_stop, tell_hangup=True)
    with stop_signals(stop):
        try:
            await runtime.start()
            if stop.name:  # a signal while starting
                request_stop()
            waits = _WaitTeller(writer, pass_max_wait(settings))
            report = await runtime.opened.run_pass(trigger=Trigger.ONCE, max_wait=waits.max_wait, progress=waits)
            synced, queued = report.count(Outcome.SYNCED), report.count(Outcome.STILL_QUEUED)
            failed = report.count(Outcome.FAILED, Outcome.REVOKED)
            later = f" (the next may run in {report.next_run_in})" if report.ended_by else ""
            ended = f"stopped by {stop.name}" if stop.name else "complete"
            writer(
                Event(
                    Kind.INFO,
                    f"pass {ended}: {synced} synced, {failed} failed,"
                    f"{f' {queued} still queued{later},' if queued else ''}"
                    f" {report.count(Outcome.IN_SYNC)} already in sync",
                )
            )
            return 1 if report.unsynced else 0
        finally:
            await runtime.stop(grace=PASS_STOP_GRACE if stop.name else STOP_GRACE_SECONDS)
            writer.close()


class _WaitTeller:
    """The pass's progress: one line per wait ("waiting 2m 31s: report budget of accounts a and
    b spent (200 per 5 min); 60 counters queued"); the wait beyond the bound, which ends the
    pass, as a warning."""

    def __init__(self, writer: EventWriter, max_wait: dt.timedelta) -> None:
        self.writer, self.max_wait = writer, max_wait

    def planned(self, plan: PlanResult, waiting: bool) -> None:
        """Nothing to say: the plan's own event was written."""

    def waiting(self, wait: PassWait) -> None:
        data = {
            "wait_seconds": round(wait.seconds, 1) if wait.seconds is not None else None,
            "until": wait.until.isoformat() if wait.until is not None else None,
            "queued": wait.queued,
            "reasons": list(wait.reasons),
            "max_wait_seconds": self.max_wait.total_seconds(),
        }
        line = wait.line(f"beyond the pass's {duration(self.max_wait.total_seconds())}")
        if wait.beyond:
            self.writer(Event(Kind.WARNING, line, level=Level.WARNING, data=data))
        else:
            self.writer(Event(Kind.INFO, line, data=data))
