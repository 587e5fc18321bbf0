"""`metrika-tui accounts ...` and `metrika-tui counters ...`: what is synced.

A token is read from standard input, a prompt without echo, or METRIKA_TOKEN, never from
an argument (argv is visible to every user of the machine), and is shown masked only.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from metrika_tui.cli.errors import EXIT_OK, EXIT_USAGE, CommandError
from metrika_tui.cli.session import run_with_engine
from metrika_tui.cli.style import Style
from metrika_tui.engine import accounts as ops
from metrika_tui.engine.contract import CommandEngine
from metrika_tui.engine.service import AccountInfo, EngineSnapshot
from metrika_tui.events import Event
from metrika_tui.settings import Settings
from metrika_tui.text import dumps, fit, visible
from metrika_tui.timefmt import ago, iso_z
from metrika_tui.tokens import Token


def run_manage(settings: Settings, args: argparse.Namespace) -> int:
    if (args.command, args.action) == ("accounts", "login"):
        from metrika_tui.cli.login_cmd import run_login

        return run_login(settings, args)
    if (args.command, args.action) == ("accounts", "add"):
        token = read_token()  # before opening anything: a bad token input changes nothing

        return run_with_engine(settings, lambda engine: _accounts_add(engine, args, token))
    handler = _HANDLERS[(args.command, args.action)]
    return run_with_engine(settings, lambda engine: handler(engine, args))


def read_token() -> Token:
    """The token from METRIKA_TOKEN, else piped stdin, else a prompt without echo."""
    raw = os.environ.get("METRIKA_TOKEN", "")
    if not raw.strip():
        if sys.stdin is None or sys.stdin.closed:
            raise CommandError("no token: pipe it on stdin or set METRIKA_TOKEN", EXIT_USAGE)
        if sys.stdin.isatty():
            raw = getpass.getpass("OAuth token (input hidden): ")
        else:
            raw = sys.stdin.readline()
    try:
        return Token(raw)
    except ValueError as exc:
        raise CommandError(f"not a usable token: {exc}", EXIT_USAGE) from None


def _tell_warnings(engine: CommandEngine) -> Callable[[], None]:
    """While discovering: the engine's warnings (a time zone this machine does not know) on stderr."""
    from metrika_tui.events import Level

    def tell(event: Event) -> None:
        if event.level in (Level.WARNING, Level.ERROR):
            print(f"  warning: {visible(event.message)}", file=sys.stderr)

    return engine.bus.subscribe(tell)


async def _accounts_add(engine: CommandEngine, args: argparse.Namespace, token: Token) -> int:
    from metrika_tui.metrika.errors import AuthError, MetrikaError

    _tell_warnings(engine)
    try:
        account, found = await ops.add_account(engine, token, user_id=args.user_id, discover=not args.no_discover)
    except AuthError as exc:
        raise CommandError(f"the API refused this token ({token.masked}): {exc}") from None
    except MetrikaError as exc:
        raise CommandError(f"could not check the token against the API: {exc}") from None
    print(
        f"Account {account.id} added: user {visible(account.user_id)}, login {visible(account.login)}"
        f" (Yandex id {visible(account.uid or 'not known yet')}), token {account.token_masked}"
    )
    if not args.no_discover:
        print(f"  {found} counter(s) discovered; run 'metrika-tui sync' to fetch their statistics")
    return EXIT_OK


async def _accounts_list(engine: CommandEngine, args: argparse.Namespace) -> int:
    snapshot = await engine.snapshot()
    if args.json:
        print(dumps([_account_json(a) for a in snapshot.accounts], indent=2))
        return EXIT_OK
    if not snapshot.accounts:
        print("No accounts. Add one with: metrika-tui accounts add   (or try: metrika-tui --demo)")
        return EXIT_OK
    style = Style.detect()
    print(f"{'ID':>4}  {'USER':<18} {'LOGIN':<22} {'TOKEN':<12} {'STATUS':<8} COUNTERS")
    for a in snapshot.accounts:
        status = style.paint("revoked", "red") if a.revoked else style.paint("active ", "green")
        print(f"{a.id:>4}  {fit(a.user_id, 18)} {fit(a.login, 22)} {a.token_masked:<12} {status:<8} {a.counters}")
        if a.token_warning:
            print(f"      {style.paint('token: ' + visible(a.token_warning), 'yellow')}")
    return EXIT_OK


def _account_json(account: AccountInfo) -> dict[str, Any]:
    return {
        "id": account.id,
        "user_id": account.user_id,
        "login": account.login,
        "uid": account.uid,
        "token": account.token_masked,
        "token_expires_at": iso_z(account.token_expires_at),
        "refreshable": account.has_refresh_token,
        "login_needed": account.login_needed,
        "revoked": account.revoked,
        "counters": account.counters,
    }


async def _accounts_revoke(engine: CommandEngine, args: argparse.Namespace) -> int:
    account = await ops.revoke_account(engine, args.account_id)
    if account is None:
        raise CommandError(f"unknown account id {args.account_id} (see 'metrika-tui accounts list')", EXIT_USAGE)
    print(f"Account {account.id} ({visible(account.user_id)}) revoked: its counters are no longer synced")
    return EXIT_OK


async def _counters_discover(engine: CommandEngine, args: argparse.Namespace) -> int:
    from metrika_tui.metrika.errors import MetrikaError

    snapshot = await engine.snapshot()
    _check_account(snapshot, args.account_id)
    accounts = [a for a in snapshot.accounts if args.account_id in (None, a.id)]
    _tell_warnings(engine)
    failures = 0
    for account in accounts:
        if account.revoked:
            print(f"Account {account.id} ({visible(account.user_id)}): revoked, skipped")
            continue
        try:
            found, new = await ops.discover(engine, account.id)
        except MetrikaError as exc:
            failures += 1
            print(
                f"Account {account.id} ({visible(account.user_id)}): discovery failed: {visible(exc)}", file=sys.stderr
            )
            continue
        print(f"Account {account.id} ({visible(account.user_id)}): {found} counter(s), {new} new")
    return 1 if failures else EXIT_OK


async def _counters_list(engine: CommandEngine, args: argparse.Namespace) -> int:
    snapshot = await engine.snapshot()
    _check_account(snapshot, args.account_id)
    seen_by = await engine.counter_accounts()  # a shared counter is listed for every account that sees it
    rows = [
        c
        for c in snapshot.counters
        if args.account_id is None or args.account_id in seen_by.get(c.counter_id, (c.account_id,))
    ]
    if args.json:
        print(dumps([ops.counter_as_dict(c, seen_by.get(c.counter_id, ())) for c in rows], indent=2))
        return EXIT_OK
    if not rows:
        print("No counters. Discover them with: metrika-tui counters discover")
        return EXIT_OK
    style = Style.detect()
    now = snapshot.taken_at
    print(f"{'COUNTER':>10}  {'ACCOUNTS':<8}  {'NAME':<28} {'SITE':<26} {'STATE':<10} LAST SYNC")
    for c in rows:
        state = style.paint(f"{c.state.label:<10}", "dim" if not c.active else "bold")
        accounts = fit(",".join(map(str, seen_by.get(c.counter_id, (c.account_id,)))), 8)  # synced through the first
        print(
            f"{c.counter_id:>10}  {accounts}  {fit(c.name, 28)} {fit(c.site, 26)} {state} {ago(c.last_fetched_at, now)}"
        )
    return EXIT_OK


def _check_account(snapshot: EngineSnapshot, account_id: int | None) -> None:
    """An --account-id that names no account is a usage error, not an empty list."""
    if account_id is not None and all(a.id != account_id for a in snapshot.accounts):
        raise CommandError(f"unknown account id {account_id} (see 'metrika-tui accounts list')", EXIT_USAGE)


async def _counters_toggle(engine: CommandEngine, args: argparse.Namespace) -> int:
    active = args.action == "enable"
    snapshot = await engine.snapshot()
    known = {c.counter_id for c in snapshot.counters}
    unknown = [cid for cid in args.counter_ids if cid not in known]
    if unknown:  # nothing changes unless every id is right
        listed = ", ".join(map(str, unknown))
        raise CommandError(f"unknown counter id(s): {listed} (see 'metrika-tui counters list')", EXIT_USAGE)
    for cid in args.counter_ids:
        await engine.set_counter_active(cid, active)
        print(f"Counter {cid} {'enabled' if active else 'disabled'}")
    return EXIT_OK


_HANDLERS: dict[tuple[str, str], Callable[[CommandEngine, argparse.Namespace], Awaitable[int]]] = {
    ("accounts", "list"): _accounts_list,
    ("accounts", "revoke"): _accounts_revoke,
    ("counters", "discover"): _counters_discover,
    ("counters", "list"): _counters_list,
    ("counters", "enable"): _counters_toggle,
    ("counters", "disable"): _counters_toggle,
}
