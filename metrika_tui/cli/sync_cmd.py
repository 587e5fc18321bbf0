"""`metrika-tui sync`: the old `analytics:sync`, but it waits for the data, not just the queue."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable, Mapping
from typing import TextIO

from metrika_tui.cli.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CommandError
from metrika_tui.cli.session import run_with_engine
from metrika_tui.cli.style import Style
from metrika_tui.engine.contract import CommandEngine
from metrika_tui.engine.passes import PlanResult
from metrika_tui.engine.planner import Pace
from metrika_tui.engine.service import EngineSnapshot
from metrika_tui.engine.waits import PassWait, pass_max_wait
from metrika_tui.events import Event, Kind
from metrika_tui.jobs import Outcome, Trigger
from metrika_tui.settings import Settings
from metrika_tui.stopping import STOP_GRACE_SECONDS, PassStop, stop_signals
from metrika_tui.text import visible
from metrika_tui.timefmt import duration, span


def run_sync(settings: Settings, args: argparse.Namespace) -> int:
    return run_with_engine(settings, lambda engine: _stoppable_sync(engine, args))


async def _stoppable_sync(engine: CommandEngine, args: argparse.Namespace) -> int:
    """The pass, with SIGTERM, SIGINT and SIGHUP as ways to stop it: running jobs get a short
    grace, the rest go back to the queue, the summary says so (a hang-up: quietly)."""
    stop = PassStop(
        lambda words: print(f"\nmetrika-tui: {words}", file=sys.stderr, flush=True),
        lambda: engine.request_stop(STOP_GRACE_SECONDS),
    )
    with stop_signals(stop):
        return await _sync(engine, args, stop)


async def _care_for_tokens(engine: CommandEngine) -> None:
    """Refresh tokens due for it (`token_care`) and tell its warnings on stderr."""
    from metrika_tui.engine.token_care import TokenCare

    def tell(event: Event) -> None:
        if event.level.value in ("warning", "error"):
            print(f"metrika-tui: {visible(event.message)}", file=sys.stderr)

    unsubscribe = engine.bus.subscribe(tell)
    try:
        await TokenCare(engine).run()
    finally:
        unsubscribe()


async def _sync(engine: CommandEngine, args: argparse.Namespace, stop: PassStop) -> int:
    style = Style.detect()
    out = sys.stdout
    started = time.monotonic()
    snapshot = await engine.snapshot()
    _check_ids(snapshot, args.account_id, args.counter_id)
    await _care_for_tokens(engine)  # a cron-driven sync is the only thing some hosts run

    print(f"{style.mark('🔄 ', '')}Starting Metrika data sync...", file=out)
    max_wait = pass_max_wait(engine.settings) if args.max_wait is None else args.max_wait
    names = {c.counter_id: visible(c.name) for c in snapshot.counters}
    with _Progress(engine, names, style, out, max_wait) as progress:
        report = await engine.run_pass(
            trigger=Trigger.SYNC,
            force=args.force,
            account_id=args.account_id,
            counter_id=args.counter_id,
            wait=not args.no_wait,
            max_wait=max_wait,
            progress=progress,
        )

    plan = report.plan
    failed = report.unsynced
    print(f"\n{style.rule(35)}", file=out)
    print("Sync Summary:", file=out)
    print(f"  Total counters: {plan.total}", file=out)
    print(f"  Queued: {len(plan.queued)}", file=out)
    if plan.already_live:
        print(f"  Already queued: {len(plan.already_live)}", file=out)
    print(f"  Skipped (recently synced): {report.count(Outcome.IN_SYNC)}", file=out)
    if plan.skipped_budget:
        print(f"  Left for later (the login's daily quota): {report.count(Outcome.LEFT_FOR_LATER)}", file=out)
        for login in sorted({a.login for a in plan.accounts if a.skipped_budget}):
            print(
                f"    {visible(_budget_words(plan.paces.get(login), login, engine.clock.now(), force=args.force))}",
                file=out,
            )
    if args.no_wait:
        print("  Not waiting: a running metrika-tui (console or --headless) works the queue", file=out)
    elif stop.name:
        print(
            f"  Stopped by {stop.name}: {report.count(Outcome.STILL_QUEUED)} counter(s) back in the queue"
            " (the next sync or a running metrika-tui takes them)",
            file=out,
        )
    if not args.no_wait:
        print(f"  Synced: {report.count(Outcome.SYNCED)}", file=out)
        print(f"  Failed: {len(failed)}", file=out)
        for o in failed:
            print(
                f"    {style.mark('❌', 'x')} Counter {o.counter_id} (account {o.account_id}): {visible(o.error)}",
                file=out,
            )
        if (beyond := report.ended_by) is not None:
            print(
                f"  Still queued: {beyond.queued}, the next may run in {report.next_run_in}"
                f" ({progress.beyond}): {visible(beyond.why)}",
                file=out,
            )
    print(style.rule(35), file=out)
    elapsed = time.monotonic() - started
    if args.no_wait:
        print(f"{style.mark('📥 ', '')}Queued {len(plan.queued)} in {elapsed:.2f}s; not waiting for them", file=out)
        return EXIT_OK
    if stop.name:
        print(f"{style.mark('⏹️  ', '')}Sync stopped by {stop.name} in {elapsed:.2f}s", file=out)
        return EXIT_FAILED if failed else EXIT_OK
    if failed:
        print(f"{style.mark('⚠️  ', '')}Sync finished with {len(failed)} failure(s) in {elapsed:.2f}s", file=out)
        return EXIT_FAILED
    print(f"{style.mark('✅ ', '')}Sync completed in {elapsed:.2f}s", file=out)
    return EXIT_OK


def _budget_words(pace: Pace | None, login: str, now: dt.datetime, *, force: bool) -> str:
    """Why a login's counters were left for later: the day's even share taken (plain `sync`),
    or nothing more fits in its day but the reserve (`--force`)."""
    if pace is None:
        return f"login {login}: its quota for today is spent"
    if pace.spent_until is not None:
        return f"login {login}: the API says its daily quota is spent until {pace.spent_until:%H:%M} UTC"
    if not force:
        return (
            f"login {login}: its quota is spread over the day, each counter every"
            f" {span(pace.effective_interval)}; 'sync --force' takes what is left of today's"
        )
    return (
        f"login {login}: nothing more fits in today's {pace.per_day:,} requests ({pace.used:,} used,"
        f" {pace.committed:,} queued before, {pace.per_day - pace.budget:,} kept for force-syncs);"
        f" the rest after the reset at {pace.resets_at:%H:%M} UTC"
    )


def _check_ids(snapshot: EngineSnapshot, account_id: int | None, counter_id: int | None) -> None:
    """Unknown ids are usage errors (exit 2), said before anything is queued."""
    accounts = {a.id: a for a in snapshot.accounts}
    if account_id is not None and account_id not in accounts:
        known = ", ".join(str(a) for a in sorted(accounts)) or "none yet"
        raise CommandError(f"unknown account id {account_id} (known: {known})", EXIT_USAGE)
    if counter_id is not None:
        counter = next((c for c in snapshot.counters if c.counter_id == counter_id), None)
        if counter is None:
            raise CommandError(f"unknown counter id {counter_id} (see 'metrika-tui counters list')", EXIT_USAGE)
        if account_id is not None and counter.account_id != account_id:
            raise CommandError(
                f"counter {counter_id} belongs to account {counter.account_id}, not {account_id}",
                EXIT_USAGE,
            )


class _Progress:
    """The plan as a listing; then one live line on a terminal, one line per finished counter
    elsewhere (cron logs).

    What the pass waits for goes to stderr, once per wait: "waiting 4m 12s: report budget of
    account alice spent (200 per 5 min); 180 counters queued"."""

    def __init__(
        self, engine: CommandEngine, names: Mapping[int, str], style: Style, out: TextIO, max_wait: dt.timedelta
    ) -> None:
        self.engine, self.names, self.style, self.out, self.max_wait = engine, names, style, out, max_wait
        self.total = self.done = self.failed = 0
        self._deferrals: set[tuple[int | None, str]] = set()  # (account, message) told: one line a wave
        self._unsubscribe: Callable[[], None] | None = None

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._unsubscribe:
            self._unsubscribe()
            if self.style.rich:
                print(file=self.out)

    def planned(self, plan: PlanResult, waiting: bool) -> None:
        """The plan, account by account; then the bar, if the pass waits for its counters."""
        out, mark = self.out, self.style.mark
        print(f"Found {len(plan.accounts)} active account(s)", file=out)
        for account in plan.accounts:
            print(f"\nAccount: {account.account_id} (User: {visible(account.user_id)})", file=out)
            print(f"  Found {account.total} counter(s)", file=out)
            for cid in account.queued:
                print(f"  {mark('✅', '+')} Counter {cid} {self.names.get(cid, '')}: queued for sync", file=out)
            for cid in account.already_live:
                print(f"  {mark('📥', '=')} Counter {cid} {self.names.get(cid, '')}: already queued", file=out)
            for cid in account.skipped_recent:
                print(
                    f"  {mark('⏭️ ', '-')} Counter {cid} {self.names.get(cid, '')}: recently synced, skipping", file=out
                )
            for cid in account.skipped_budget:
                print(
                    f"  {mark('⏸️ ', '~')} Counter {cid} {self.names.get(cid, '')}: left for later"
                    f" (login {account.login}'s daily quota)",
                    file=out,
                )
        if waiting:
            self.total = len(plan.waits_for)
            print(file=out)
            self._unsubscribe = self.engine.bus.subscribe(self._on_event)
            self._draw()

    def waiting(self, wait: PassWait) -> None:
        self.waiting_words(wait.line(self.beyond))

    def waiting_words(self, words: str) -> None:
        """A line on stderr about what the pass waits for; the bar goes on below it."""
        if self.style.rich:  # the bar's line ends; it goes on below the message
            print(file=self.out, flush=True)
        print(f"  {visible(words)}", file=sys.stderr, flush=True)
        self._draw()

    @property
    def beyond(self) -> str:
        return f"beyond --max-wait {duration(self.max_wait.total_seconds())}"

    def _on_event(self, event: Event) -> None:
        if event.kind is Kind.DONE:
            self.done += 1
        elif event.kind is Kind.FAILED:
            self.failed += 1
        elif event.kind is Kind.DEFERRED:
            # an account's queued counters are deferred one by one, to the same moment: tell the
            # first (the wait line says how many wait)
            if (event.account_id, event.message) in self._deferrals:
                return
            self._deferrals.add((event.account_id, event.message))
        elif "taken_back" in event.data:  # a dead process's jobs: told like a wait, once each
            self.waiting_words(event.message)
            return
        elif event.kind is not Kind.RETRYING:
            return
        if self.style.rich:
            self._draw()
        else:
            print(f"  {event.kind.value}: counter {event.counter_id}: {visible(event.message)}", file=self.out)

    def _draw(self) -> None:
        if not self.style.rich:
            return
        finished = self.done + self.failed
        width = 30
        filled = width * finished // max(self.total, 1)
        bar = "█" * filled + "░" * (width - filled)
        self.out.write(f"\r  {bar} {finished}/{self.total}  ✅ {self.done}  ❌ {self.failed}   ")
        self.out.flush()
