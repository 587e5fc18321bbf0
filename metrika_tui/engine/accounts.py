"""Managing what is synced: accounts (tokens) and their counters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from metrika_tui.engine.ports import EngineParts
from metrika_tui.engine.status import CounterStatus
from metrika_tui.events import Kind, Level
from metrika_tui.models import Counter, known_zone, offset_text
from metrika_tui.store import Account
from metrika_tui.timefmt import iso_z
from metrika_tui.tokens import Token

#: counters named in the warning about unknown time zones, then "and N more"
NAMED_ZONES = 5


class AccountRefused(Exception):
    """Yandex refused what the user asked (a token, a login): the message says why, in the user's
    words, so the console shows it without knowing the client's error taxonomy."""


async def add_account_or_refuse(engine: EngineParts, token: Token, *, user_id: str | None) -> tuple[Account, int]:
    """`add_account` with discovery, the client's errors told as AccountRefused."""
    from metrika_tui.metrika.errors import AuthError, MetrikaError

    try:
        return await add_account(engine, token, user_id=user_id)
    except AuthError as exc:
        raise AccountRefused(f"the API refused the token {token.masked}: {exc.message}") from None
    except MetrikaError as exc:
        raise AccountRefused(f"could not check the token {token.masked}: {exc}") from None


async def add_account(
    engine: EngineParts,
    token: Token,
    *,
    user_id: str | None,
    discover: bool = True,
    refresh_token: Token | None = None,
    expires_at: dt.datetime | None = None,
) -> tuple[Account, int]:
    """Ask Yandex ID whose token it is, check it against the API, store the account, and
    (by default) its counters. A Yandex user already known gets the new token on its
    account (logging in again), not a second account.

    Returns (account, counters found). Raises the client's MetrikaError when Yandex ID or
    the API refuses the token, before anything is written. When Yandex ID does not answer,
    the login is taken from the counters' owner and asked again later (`token_care`).
    """
    from metrika_tui.metrika.errors import AuthError, MetrikaError

    identity = None
    if engine.yandex_id is not None:
        try:
            identity = await engine.yandex_id.identity(token)
        except AuthError:
            raise
        except MetrikaError as exc:
            engine.bus.emit(
                Kind.WARNING,
                f"Yandex ID did not say whose token {token.masked} is ({exc}); the login"
                " is taken from its counters and asked again later",
                level=Level.WARNING,
            )
    counters = await engine.client.list_counters(token)
    login = identity.login if identity else next((c.owner_login for c in counters if c.owner_login), "") or "unknown"
    account = await engine.store.add_account(
        user_id=user_id,
        login=login,
        token=token,
        now=engine.clock.now(),
        uid=identity.uid if identity else None,
        refresh_token=refresh_token,
        expires_at=expires_at,
    )
    found = 0
    if discover:
        found, _ = await engine.store.upsert_counters(account.id, counters, now=engine.clock.now())
        _warn_unknown_zones(engine, account.id, counters)
    engine.bus.emit(
        Kind.INFO, f"account {account.id} ({account.user_id}) added with {found} counter(s)", account_id=account.id
    )
    return account, found


async def discover(engine: EngineParts, account_id: int) -> tuple[int, int]:
    """Pull the account's counters (all pages) into the store; returns (found, new)."""
    account = next(a for a in await engine.store.accounts() if a.id == account_id)
    counters = await engine.client.list_counters(account.token)
    found, new = await engine.store.upsert_counters(account_id, counters, now=engine.clock.now())
    engine.bus.emit(Kind.INFO, f"discovered {found} counter(s), {new} new", account_id=account_id)
    _warn_unknown_zones(engine, account_id, counters)
    return found, new


def _warn_unknown_zones(engine: EngineParts, account_id: int, counters: Sequence[Counter]) -> None:
    """One warning for the counters whose time zone this machine does not know: their days are
    counted at the fixed offset the API gave with it (no daylight saving), not failed."""
    unknown = [c for c in counters if known_zone(c.time_zone) is None]
    if not unknown:
        return
    named = ", ".join(
        f"{c.id} ({c.time_zone!r}, offset {offset_text(c.time_zone_offset)})" for c in unknown[:NAMED_ZONES]
    )
    more = f" and {len(unknown) - NAMED_ZONES} more" if len(unknown) > NAMED_ZONES else ""
    engine.bus.emit(
        Kind.WARNING,
        f"{len(unknown)} counter(s) in a time zone this machine does not know: {named}{more};"
        " their days are counted at that fixed offset",
        level=Level.WARNING,
        account_id=account_id,
    )


async def revoke_account(engine: EngineParts, account_id: int) -> Account | None:
    """Stop syncing an account by hand; returns the account, or None for an unknown id."""
    if not await engine.store.revoke_account(account_id, reason="revoked by the user", now=engine.clock.now()):
        return None
    engine.bus.emit(Kind.REVOKED, "revoked by the user", account_id=account_id)
    return next(a for a in await engine.store.accounts() if a.id == account_id)


def counter_as_dict(counter: CounterStatus, seen_by: tuple[int, ...] = ()) -> dict[str, Any]:
    """A counter for --json; `accounts`: every account that sees it, the one it syncs through first."""
    return {
        "counter_id": counter.counter_id,
        "account_id": counter.account_id,
        "accounts": list(seen_by or (counter.account_id,)),
        "name": counter.name,
        "site": counter.site,
        "active": counter.active,
        "state": counter.state.value,
        "last_fetched_at": iso_z(counter.last_fetched_at),
        "next_due_at": iso_z(counter.next_due_at),
        "last_error": counter.last_error,
        "sample_share": counter.sample_share,
    }
