"""The command line: one parser, options usable before or after the subcommand."""

from __future__ import annotations

import argparse
import datetime as dt
import re

from metrika_tui import __version__


class UsageError(Exception):
    """Bad input on the command line (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors become UsageError so main() prints them one way."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{message}\n(see '{self.prog} --help')")


def _common(parser: argparse.ArgumentParser, *, default=None) -> None:
    """Options every command accepts. Subparsers use SUPPRESS so they don't undo the top level."""
    g = parser.add_argument_group("common options")
    g.add_argument("--demo", action="store_true", default=default if default is not None else False,
                   help="use the bundled Metrika simulator and a demo database (no token, no network)")
    g.add_argument("--db", dest="db_path", metavar="PATH", default=default,
                   help="database file (env METRIKA_DB)")
    g.add_argument("--config", metavar="PATH", default=default,
                   help="config file (env METRIKA_CONFIG)")
    g.add_argument("--api-url", metavar="URL", default=default, help="Metrika API base URL (env METRIKA_API_URL)")
    g.add_argument("--interval-minutes", metavar="N", default=default,
                   help="sync interval in minutes (env METRIKA_SYNC_INTERVAL_MINUTES, default 60)")
    g.add_argument("--timezone", metavar="TZ", default=default,
                   help="time zone of the schedule (env APP_TIMEZONE, default Europe/Moscow)")
    g.add_argument("--workers", metavar="N", default=default, help="async workers (env METRIKA_WORKERS)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="metrika-tui",
        description="Keep Yandex Metrika statistics in sync, and watch it happen.",
        epilog="Without a command: the interactive console (or the daemon, with --headless).",
    )
    parser.add_argument("--version", action="version", version=f"metrika-tui {__version__}")
    _common(parser)
    parser.add_argument("--headless", action="store_true", help="run scheduler and workers without a UI")
    parser.add_argument("--once", action="store_true",
                        help="with --headless: plan one pass, work it to completion, exit")
    parser.add_argument("--read-only", action="store_true", help="console: observe only")
    parser.add_argument("--log-file", metavar="PATH", help="headless: append events here")
    parser.add_argument("--log-format", choices=("text", "json"), help="headless: event line format")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    s = argparse.SUPPRESS

    p = sub.add_parser("sync", help="plan one sync pass and work it (like analytics:sync)")
    _common(p, default=s)
    p.add_argument("--account-id", type=_positive_int, metavar="ID", help="only this account")
    p.add_argument("--counter-id", type=_positive_int, metavar="ID", help="only this counter")
    p.add_argument("--force", action="store_true", help="ignore the interval: sync even fresh counters")
    p.add_argument("--no-wait", action="store_true", help="only enqueue, for a running daemon")
    p.add_argument("--max-wait", type=_wait, metavar="TIME",
                   help="wait out a quota that frees within TIME (seconds, or 90s, 10m, 1h30m; default: the "
                        "report window and a minute, 6m); counters deferred longer stay queued (exit 1)")

    p = sub.add_parser("sync-status", help="per counter sync state and a summary")
    _common(p, default=s)
    p.add_argument("--json", action="store_true", help="one JSON object")

    p = sub.add_parser("accounts", help="manage accounts (OAuth tokens)")
    _common(p, default=s)
    acc = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    a = acc.add_parser("add", help="add an account; the token comes from stdin, a prompt or METRIKA_TOKEN")
    _common(a, default=s)
    a.add_argument("--user-id", metavar="LABEL", help="your label for the account (default: its login)")
    a.add_argument("--no-discover", action="store_true", help="do not pull its counters now")
    a = acc.add_parser("login", help="add an account with a code confirmed on any device (needs [oauth] "
                                     "client_id and client_secret)")
    _common(a, default=s)
    a.add_argument("--user-id", metavar="LABEL", help="your label for the account (default: its login)")
    a.add_argument("--no-discover", action="store_true", help="do not pull its counters now")
    a = acc.add_parser("list", help="list accounts (tokens masked)")
    _common(a, default=s)
    a.add_argument("--json", action="store_true")
    a = acc.add_parser("revoke", help="stop syncing an account")
    _common(a, default=s)
    a.add_argument("account_id", type=_positive_int, metavar="ACCOUNT_ID")

    p = sub.add_parser("counters", help="manage counters")
    _common(p, default=s)
    cnt = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    c = cnt.add_parser("discover", help="pull an account's counters from the Management API")
    _common(c, default=s)
    c.add_argument("--account-id", type=_positive_int, metavar="ID", help="only this account (default: all)")
    c = cnt.add_parser("list", help="list counters")
    _common(c, default=s)
    c.add_argument("--account-id", type=_positive_int, metavar="ID")
    c.add_argument("--json", action="store_true")
    for name, text in (("enable", "sync this counter again"), ("disable", "never plan this counter")):
        c = cnt.add_parser(name, help=text)
        _common(c, default=s)
        c.add_argument("counter_ids", type=_positive_int, nargs="+", metavar="COUNTER_ID")

    p = sub.add_parser("simulator", help="serve the Metrika API simulator on loopback")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_port, default=8765)
    p.add_argument("--seed", type=int, default=None, help="generate a world from this seed (default: the demo world)")
    p.add_argument("--accounts", type=_positive_int, default=5)
    p.add_argument("--counters-per-account", type=_positive_int, default=10)
    p.add_argument("--latency-ms", type=float, default=0.0, help="median answer latency")
    p.add_argument("--fault-rate", type=float, default=0.0, help="share of answers that fail (0..1)")
    p.add_argument("--hostile", metavar="TRICKS", default="",
                   help="serve hostile answers for every counter: comma-separated tricks (names, errors, "
                        "endless_paging, trickle, huge, rows_outside, sampled, bogus_zone, …)")

    p = sub.add_parser("paths", help="print where config, data and logs live")
    _common(p, default=s)
    return parser


#: SQLite's largest integer: no id is larger (a larger one would overflow the query)
_LARGEST_ID = 2**63 - 1


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number above zero, got {text!r}")
    if value > _LARGEST_ID:
        raise argparse.ArgumentTypeError(f"expected a number up to {_LARGEST_ID}, got {text!r}")
    return value


#: the longest --max-wait: every Metrika quota resets within a day
_LONGEST_WAIT = dt.timedelta(hours=24)
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}


def _wait(text: str) -> dt.timedelta:
    """Seconds ('360'), or amounts with units ('90s', '10m', '1h30m'), up to a day."""
    compact = "".join(text.split()).lower()
    if compact.startswith("-"):
        raise argparse.ArgumentTypeError(f"a wait cannot be negative, got {text!r}")
    if re.fullmatch(r"\d+(\.\d+)?", compact):
        seconds = float(compact)
    elif re.fullmatch(r"(\d+(\.\d+)?[hms])+", compact):
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([hms])", compact))
    else:
        raise argparse.ArgumentTypeError(f"expected seconds or a time like 90s, 10m, 1h30m, got {text!r}")
    if seconds > _LONGEST_WAIT.total_seconds():
        raise argparse.ArgumentTypeError(f"a wait of at most 24h, got {text!r}")
    return dt.timedelta(seconds=seconds)


def _port(text: str) -> int:
    value = _positive_int(text) if text != "0" else 0
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, got {text!r}")
    return value
