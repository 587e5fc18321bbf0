"""What the console's keys do to the engine, as plain async calls returning words for the user.

Widgets and screens never call the engine themselves: an action handler runs one of
these in a Textual worker and shows the answer as a notification. `--read-only` is
enforced here, once, so no key can slip past it.
"""

from __future__ import annotations

from metrika_tui.engine.contract import ConsoleEngine, ConsoleRuntime, JobRecord
from metrika_tui.engine.login import DeviceLogin
from metrika_tui.engine.service import CounterDetail
from metrika_tui.jobs import Trigger


class Refused(Exception):
    """The action is not allowed here (read-only); the message says why, for the user."""


class ConsoleOperations:
    def __init__(self, runtime: ConsoleRuntime, *, read_only: bool = False) -> None:
        self.runtime = runtime
        self.read_only = read_only

    @property
    def engine(self) -> ConsoleEngine:
        engine = self.runtime.engine
        if engine is None:
            raise Refused("the engine is still starting; try again in a moment")
        return engine

    def guard(self, what: str) -> None:
        if self.read_only:
            raise Refused(f"read-only console: {what} refused (start without --read-only to act)")

    async def add_account(self, raw_token: str, label: str) -> str:
        """Check the token against the API, store the account and discover its counters."""
        from metrika_tui.engine.accounts import AccountRefused
        from metrika_tui.tokens import Token

        self.guard("adding an account")
        try:
            token = Token(raw_token)
        except ValueError as exc:
            raise Refused(f"not a usable token: {exc}") from None
        try:
            account, found = await self.engine.add_account_or_refuse(token, user_id=label or None)
        except AccountRefused as exc:
            raise Refused(str(exc)) from None
        return f"account {account.user_id} added with {found} counter(s); press s to sync them now"

    @property
    def can_log_in(self) -> bool:
        """Whether an OAuth app is configured, so the device-code login can work."""
        return not self.read_only and self.runtime.settings.oauth_app is not None

    @property
    def login_not_configured(self) -> str:
        from metrika_tui.engine.login import NOT_CONFIGURED

        return NOT_CONFIGURED[0].upper() + NOT_CONFIGURED[1:] + ". Meanwhile, paste a token in the next tab."

    async def start_login(self) -> DeviceLogin:
        """Ask Yandex ID for a code (`engine.login.DeviceLogin`); the screen shows its prompt."""
        from metrika_tui.engine.accounts import AccountRefused

        self.guard("adding an account")
        try:
            return await self.engine.start_login_or_refuse()
        except AccountRefused as exc:
            raise Refused(str(exc)) from None

    async def finish_login(self, login: DeviceLogin, label: str = "") -> str:
        """Wait for the user's confirmation, then store the account and discover its counters."""
        from metrika_tui.engine.accounts import AccountRefused
        from metrika_tui.engine.login import finish_login_or_refuse

        try:
            account, found = await finish_login_or_refuse(login, user_id=label or None)
        except AccountRefused as exc:
            raise Refused(str(exc)) from None
        return f"account {account.login} logged in with {found} counter(s); press s to sync them now"

    async def force_sync(self, counter_id: int) -> str:
        self.guard("force sync")
        result = await self.engine.force_sync(counter_id)
        if counter_id in result.queued:
            return f"counter {counter_id} queued ahead of the rest"
        if counter_id in result.already_live:
            return f"counter {counter_id} is already queued or syncing"
        return f"counter {counter_id} was not queued (disabled, or its account is revoked)"

    async def set_active(self, counter_id: int, active: bool) -> str:
        self.guard("enable" if active else "disable")
        await self.engine.set_counter_active(counter_id, active)
        return f"counter {counter_id} " + ("enabled: planned again" if active else "disabled: never planned")

    async def sync_due(self) -> str:
        self.guard("sync due")
        result = await self.engine.plan(trigger=Trigger.MANUAL)
        return (
            f"queued {len(result.queued)} due counter(s); {len(result.skipped_recent)} in sync,"
            f" {len(result.already_live)} already queued"
        )

    async def force_sync_all(self) -> str:
        self.guard("force sync all")
        result = await self.engine.plan(force=True, trigger=Trigger.MANUAL)
        return f"queued {len(result.queued)} counter(s); {len(result.already_live)} were already queued"

    async def retry_failed(self, counter_id: int | None = None) -> str:
        self.guard("retry")
        count = await self.engine.retry_failed(counter_id)
        if counter_id is not None:
            return f"counter {counter_id} requeued" if count else f"counter {counter_id} had no failed job"
        return f"requeued {count} failed job(s)" if count else "no failed jobs to retry"

    def toggle_scheduler(self) -> str:
        self.guard("pause/resume the scheduler")
        if self.runtime.scheduler_state == "paused":
            self.runtime.resume_scheduler()
            return "scheduler resumed"
        self.runtime.pause_scheduler()
        return "scheduler paused: no new passes are planned (running jobs go on)"

    async def counter_detail(self, counter_id: int) -> CounterDetail:
        return await self.engine.counter_detail(counter_id)

    async def failed_jobs(self) -> list[JobRecord]:
        return await self.engine.failed_jobs()
