"""`metrika-tui accounts login`: add an account with a code confirmed on any device.

Prints the code large and the URL (an OSC 8 link on a terminal), counts down while it
waits, and stores the account when the user confirms. SIGINT, SIGTERM and SIGHUP cancel it
cleanly (nothing stored, exit 1), as does the code's expiry. The client secret comes only
from the config file or the environment, never from argv.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from typing import TYPE_CHECKING, TextIO

from metrika_tui.bigtext import big_text
from metrika_tui.cli.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CommandError
from metrika_tui.cli.session import run_with_engine
from metrika_tui.cli.style import Style
from metrika_tui.settings import Settings
from metrika_tui.text import visible
from metrika_tui.timefmt import duration

if TYPE_CHECKING:
    from metrika_tui.engine.contract import CommandEngine
    from metrika_tui.engine.login import DeviceLogin, LoginPrompt
    from metrika_tui.metrika.oauth import TokenGrant

#: how often the countdown line is redrawn on a terminal
TICK = 1.0


def run_login(settings: Settings, args: argparse.Namespace) -> int:
    return run_with_engine(settings, lambda engine: _login(engine, args))


async def _login(engine: CommandEngine, args: argparse.Namespace) -> int:
    from metrika_tui.engine.login import DeviceLogin, LoginNotConfigured
    from metrika_tui.metrika.errors import MetrikaError
    from metrika_tui.metrika.oauth import AppRejected

    out = sys.stdout
    try:
        login = await DeviceLogin.start(engine)
    except LoginNotConfigured as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    except AppRejected as exc:
        raise CommandError(
            f"Yandex OAuth refused the app {engine.settings.oauth_client_id!r}: {exc.message};"
            " check [oauth] client_id and client_secret"
        ) from None
    except MetrikaError as exc:
        raise CommandError(f"could not start the login: {exc}") from None
    show_prompt(login.prompt, out, Style.detect(out), login.seconds_left())
    grant = await _wait_or_stop(login, out)
    account, found = await login.finish(grant, user_id=args.user_id, discover=not args.no_discover)
    expires = f", valid until {account.token_expires_at:%Y-%m-%d}" if account.token_expires_at else ""
    print(
        f"Account {account.id} added: login {visible(account.login)} (Yandex id {visible(account.uid or 'not known yet')}),"
        f" token {account.token_masked}{expires}",
        file=out,
    )
    if not args.no_discover:
        print(f"  {found} counter(s) discovered; run 'metrika-tui sync' to fetch their statistics", file=out)
    return EXIT_OK


def show_prompt(prompt: LoginPrompt, out: TextIO, style: Style, seconds_left: float) -> None:
    """The steps, the URL (a link where the terminal makes one) and the code, large."""
    shown_url = visible(prompt.verification_url)  # the OAuth server's words: no control reaches the terminal
    url = _link(shown_url) if style.rich else shown_url
    code = "\n".join("      " + line for line in big_text(visible(prompt.user_code)).splitlines())
    print("Log in to Yandex with a code:\n", file=out)
    print(f"  1. Open  {style.paint(url, 'bold')}  on any device (a phone will do)", file=out)
    print("  2. Sign in as the account to add, and enter this code:\n", file=out)
    print(style.paint(code, "bold"), file=out)
    print(f"\n      code: {style.paint(visible(prompt.user_code), 'bold')}\n", file=out)
    if not style.rich:  # no countdown line in a pipe or a log: say the bound once
        print(f"Waiting up to {duration(seconds_left)} for the confirmation...", file=out, flush=True)


async def _wait_or_stop(login: DeviceLogin, out: TextIO) -> TokenGrant:
    """The grant, or a CommandError when the user stops (a signal) or the code runs out."""
    from metrika_tui.metrika.errors import MetrikaError
    from metrika_tui.metrika.oauth import AppRejected, LoginRefused

    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    for sig in signals:
        loop.add_signal_handler(sig, stopped.set)
    waiting = asyncio.ensure_future(login.wait())
    stopping = asyncio.ensure_future(stopped.wait())
    ticker = asyncio.ensure_future(_countdown(login, out)) if out.isatty() else None
    try:
        await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (ticker, stopping):
            if task is not None:
                task.cancel()
        for sig in signals:
            loop.remove_signal_handler(sig)
        if ticker is not None:
            print(file=out)  # end the countdown line
    if not waiting.done():
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await waiting
        raise CommandError("login cancelled: nothing was stored", EXIT_FAILED)
    try:
        return waiting.result()
    except LoginRefused as exc:
        if exc.reason == "denied":
            raise CommandError("the login was denied on the Yandex page: nothing was stored", EXIT_FAILED) from None
        raise CommandError(
            "the code expired before it was confirmed: nothing was stored; run"
            " 'metrika-tui accounts login' again for a new one",
            EXIT_FAILED,
        ) from None
    except AppRejected as exc:
        raise CommandError(
            f"Yandex OAuth refused the app: {exc.message}; check [oauth] client_id and"
            " client_secret (or METRIKA_CLIENT_ID and METRIKA_CLIENT_SECRET)",
            EXIT_FAILED,
        ) from None
    except MetrikaError as exc:
        raise CommandError(f"the login failed: {exc}", EXIT_FAILED) from None


async def _countdown(login: DeviceLogin, out: TextIO) -> None:
    while True:
        left = max(0.0, login.seconds_left())
        out.write(f"\r\x1b[2K  waiting for the confirmation... {duration(left)} left (Ctrl-C cancels)")
        out.flush()
        await asyncio.sleep(TICK)


def _link(url: str) -> str:
    """An OSC 8 hyperlink: terminals that know it make the text clickable, others show it."""
    return f"\x1b]8;;{url}\x1b\\{url}\x1b]8;;\x1b\\"
