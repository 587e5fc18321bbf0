"""Tokens before they expire: refresh them in time, warn when they cannot be, learn who owns them.

One pass (`care_for_tokens`) looks at every live account:

- a token with a refresh token and under `REFRESH_BEFORE` (30 days) left is refreshed, by
  one process at a time (a lease in the store); Yandex may answer with the same token;
- a refused refresh (`invalid_grant`) marks the account as needing a new login, with the
  command to run; its token works on until it dies;
- a token with no refresh token and under `WARN_BEFORE` (14 days) left is a warning;
- an account whose Yandex user is not known yet (added before identities were kept, or
  while Yandex ID did not answer) asks `login.yandex.ru/info`, so per-login quotas use
  the right login.

The runtime runs a pass at start and every `CARE_PERIOD`; `--once` and `sync` run one.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from metrika_tui.engine.ports import EngineParts, YandexIdApi
from metrika_tui.events import Kind, Level
from metrika_tui.metrika.errors import AuthError, MetrikaError
from metrika_tui.metrika.oauth import AppRejected, RefreshRefused
from metrika_tui.store import Account

log = logging.getLogger(__name__)

REFRESH_BEFORE = dt.timedelta(days=30)
WARN_BEFORE = dt.timedelta(days=14)
CARE_PERIOD = dt.timedelta(hours=1)
#: how long one process holds the right to refresh an account (a refresh is one request)
REFRESH_LEASE = dt.timedelta(minutes=2)
LOGIN_COMMAND = "metrika-tui accounts login"


@dataclass
class CareReport:
    """What one pass did, account ids by outcome (for tests and the event lines)."""

    refreshed: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    warned: list[int] = field(default_factory=list)
    identified: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)  # Yandex ID did not answer: next pass


def token_warning(account: Account, now: dt.datetime) -> str | None:
    """What the user should know about an account's token, or None when all is well."""
    if account.revoked:
        return None
    if account.login_needed:
        return f"{account.login_needed}; run '{LOGIN_COMMAND}'"
    expires = account.token_expires_at
    if expires is None or account.refresh_token is not None or expires - now >= WARN_BEFORE:
        return None
    if expires <= now:
        return f"its token expired {expires:%Y-%m-%d}; run '{LOGIN_COMMAND}'"
    days = max(0, (expires - now).days)
    return f"its token expires in {days} day(s) ({expires:%Y-%m-%d}) and cannot be refreshed; run '{LOGIN_COMMAND}'"


class TokenCare:
    """The engine's token lifecycle; warnings are told once a day per account, not per pass."""

    def __init__(self, engine: EngineParts) -> None:
        self.engine = engine
        self._warned: dict[int, dt.date] = {}

    async def run(self) -> CareReport:
        engine, report, yandex_id = self.engine, CareReport(), self.engine.yandex_id
        if yandex_id is None:
            return report
        now = engine.clock.now()
        for account in await engine.store.accounts():
            if account.revoked:
                continue
            if account.uid is None:
                await self._identify(yandex_id, account, report)
            if (
                account.refresh_token is not None
                and account.login_needed is None
                and account.token_expires_at
                and account.token_expires_at - now < REFRESH_BEFORE
            ):
                await self._refresh(yandex_id, account, now, report)
            elif (warning := token_warning(account, now)) is not None and self._warned.get(account.id) != now.date():
                self._warned[account.id] = now.date()
                report.warned.append(account.id)
                engine.bus.emit(
                    Kind.WARNING,
                    f"account {account.id} ({account.login}): {warning}",
                    level=Level.WARNING,
                    account_id=account.id,
                )
        return report

    async def _refresh(self, yandex_id: YandexIdApi, account: Account, now: dt.datetime, report: CareReport) -> None:
        engine, app = self.engine, self.engine.settings.oauth_app
        ids = {"account_id": account.id}
        if app is None:
            if self._warned.get(account.id) != now.date():
                self._warned[account.id] = now.date()
                report.warned.append(account.id)
                engine.bus.emit(
                    Kind.WARNING,
                    f"account {account.id} ({account.login}): its token expires"
                    f" {account.token_expires_at:%Y-%m-%d} and cannot be refreshed: no OAuth app is"
                    " configured ([oauth] client_id and client_secret)",
                    level=Level.WARNING,
                    **ids,
                )
            return
        claimed = await engine.store.claim_token_refresh(
            account.id, now=now, due_before=now + REFRESH_BEFORE, lease=REFRESH_LEASE
        )
        if claimed is None:  # another process is at it, or did it a moment ago
            return
        old = claimed.refresh_token
        if old is None:  # it had one when claimed; read just after, another login may have replaced it
            await engine.store.release_token_refresh(account.id)
            return
        try:
            grant = await yandex_id.refresh(app, old)
        except RefreshRefused as exc:
            reason = f"Yandex ID refused to refresh its token ({exc.message})"
            if await engine.store.mark_login_needed(account.id, reason=reason, old_refresh=old):
                report.refused.append(account.id)
                engine.bus.emit(
                    Kind.ERROR,
                    f"account {account.id} ({account.login}) must log in again: {reason}; run '{LOGIN_COMMAND}'",
                    level=Level.ERROR,
                    **ids,
                )
            return
        except AppRejected as exc:
            await engine.store.release_token_refresh(account.id)
            report.failed.append(account.id)
            engine.bus.emit(
                Kind.ERROR,
                f"account {account.id}: cannot refresh its token: {exc.message}; check"
                " [oauth] client_id and client_secret",
                level=Level.ERROR,
                **ids,
            )
            return
        except MetrikaError as exc:  # no answer, or a strange one: the next pass tries again
            await engine.store.release_token_refresh(account.id)
            report.failed.append(account.id)
            engine.bus.emit(
                Kind.WARNING,
                f"account {account.id}: refreshing its token failed, will retry: {exc}",
                level=Level.WARNING,
                **ids,
            )
            return
        expires = grant.expires_at(engine.clock.now())
        if await engine.store.store_refreshed_token(
            account.id, old_refresh=old, token=grant.access_token, refresh_token=grant.refresh_token, expires_at=expires
        ):
            report.refreshed.append(account.id)
            same = "the same token, " if grant.access_token == claimed.token else "a new token "
            engine.bus.emit(
                Kind.INFO,
                f"account {account.id} ({account.login}): token refreshed ({same}valid until {expires:%Y-%m-%d})"
                if expires
                else f"account {account.id}: token refreshed",
                **ids,
            )

    async def _identify(self, yandex_id: YandexIdApi, account: Account, report: CareReport) -> None:
        engine = self.engine
        try:
            who = await yandex_id.identity(account.token)
        except AuthError:
            return  # a dead token: the next job that uses it revokes the account
        except MetrikaError as exc:
            log.debug("identity of account %s: %s", account.id, exc)
            return
        if await engine.store.set_identity(account.id, login=who.login, uid=who.uid):
            report.identified.append(account.id)
            if who.login != account.login:
                engine.bus.emit(
                    Kind.INFO,
                    f"account {account.id}: Yandex ID says its login is {who.login} (was {account.login})",
                    account_id=account.id,
                )
        elif self._warned.get(-account.id) != engine.clock.now().date():
            self._warned[-account.id] = engine.clock.now().date()
            engine.bus.emit(
                Kind.WARNING,
                f"account {account.id} ({who.login}) is the same Yandex user as another account: revoke one of them",
                level=Level.WARNING,
                account_id=account.id,
            )
