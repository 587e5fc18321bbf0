"""The command line: one parser, options usable before or after the subcommand."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from metrika_tui import __version__
from metrika_tui.models import month_end
from metrika_tui.settings import flag_help


class UsageError(Exception):
    """Bad input on the command line (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors become UsageError so main() prints them one way."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}\n(see '{self.prog} --help')")


def _common(parser: argparse.ArgumentParser, *, default=None) -> None:
    """Options every command accepts. Subparsers use SUPPRESS so they don't undo the top level."""
    g = parser.add_argument_group("common options")
    g.add_argument(
        "--demo",
        action="store_true",
        default=default if default is not None else False,
        help="use the bundled Metrika simulator and a demo database (no token, no network)",
    )
    g.add_argument(
        "--db",
        dest="db_path",
        metavar="PATH|URL",
        default=default,
        help=flag_help(
            "db_path", "SQLite file, or postgresql://user@host:port/dbname (a password only by env or file)"
        ),
    )
    g.add_argument("--config", metavar="PATH", default=default, help="config file (env METRIKA_CONFIG)")
    g.add_argument("--api-url", metavar="URL", default=default, help=flag_help("api_url", "Metrika API base URL"))
    g.add_argument(
        "--interval-minutes",
        metavar="N",
        default=default,
        help=flag_help("interval_minutes", "sync interval in minutes"),
    )
    g.add_argument(
        "--timezone",
        metavar="TZ",
        default=default,
        help=flag_help("timezone", "time zone of the schedule"),
    )
    g.add_argument("--workers", metavar="N", default=default, help=flag_help("workers", "async workers"))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="metrika-tui",
        description="Keep Yandex Metrika statistics in sync, and watch it happen.",
        epilog="Without a command: the interactive console (or the daemon, with --headless).",
    )
    parser.add_argument("--version", action="version", version=f"metrika-tui {__version__}")
    _common(parser)
    parser.add_argument("--headless", action="store_true", help="run scheduler and workers without a UI")
    parser.add_argument(
        "--once", action="store_true", help="with --headless: plan one pass, work it to completion, exit"
    )
    parser.add_argument("--read-only", action="store_true", help="console: observe only")
    parser.add_argument("--log-file", metavar="PATH", help=flag_help("log_file", "headless: append events here"))
    parser.add_argument(
        "--log-format", choices=("text", "json"), help=flag_help("log_format", "headless: event line format")
    )
    parser.add_argument(
        "--metrics-port",
        type=_port,
        metavar="PORT",
        help=flag_help(
            "metrics_port",
            "headless and console: serve Prometheus metrics on http://ADDRESS:PORT/metrics, 0: a free port",
        ),
    )
    parser.add_argument(
        "--metrics-address",
        metavar="ADDRESS",
        help=flag_help("metrics_address", "where the metrics are served"),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    s = argparse.SUPPRESS

    p = sub.add_parser("sync", help="plan one sync pass and work it (like analytics:sync)")
    _common(p, default=s)
    p.add_argument("--account-id", type=_positive_int, metavar="ID", help="only this account")
    p.add_argument("--counter-id", type=_positive_int, metavar="ID", help="only this counter")
    p.add_argument("--force", action="store_true", help="ignore the interval: sync even fresh counters")
    p.add_argument("--no-wait", action="store_true", help="only enqueue, for a running daemon")
    p.add_argument(
        "--max-wait",
        type=_wait,
        metavar="TIME",
        help="wait out a quota that frees within TIME (seconds, or 90s, 10m, 1h30m; default: the "
        "report window and a minute, 6m); counters deferred longer stay queued (exit 1)",
    )

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
    a = acc.add_parser(
        "login", help="add an account with a code confirmed on any device (needs [oauth] client_id and client_secret)"
    )
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
    p.add_argument(
        "--hostile",
        metavar="TRICKS",
        default="",
        help="serve hostile answers for every counter: comma-separated tricks (names, errors, "
        "endless_paging, trickle, huge, rows_outside, sampled, bogus_zone, …)",
    )

    p = sub.add_parser(
        "health",
        help="exit 0 if the sync is healthy, else 1 with one line per reason",
        description="Healthy: the database opens, a scheduler planned the last slot (a daemon or "
        "console runs), and no active counter's data is older than --max-age. For "
        "HEALTHCHECK, systemd and monitoring.",
    )
    _common(p, default=s)
    p.add_argument(
        "--max-age",
        type=_age,
        metavar="DURATION",
        help="the oldest data that is healthy (90m, 6h, 2d; default: 3 intervals of each "
        "counter's login, its quota's stretched cadence counted)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object")

    p = sub.add_parser(
        "export",
        help="the stored statistics as CSV or JSON Lines, to stdout or a file",
        description="Stream the stored daily or monthly statistics: to stdout (for a pipe), or "
        "to --output FILE, which appears whole or not at all. Dates are in each "
        "counter's own time zone.",
    )
    _common(p, default=s)
    p.add_argument("grain", choices=("daily", "monthly"), help="one row a counter and day, or a counter and month")
    p.add_argument(
        "--counter-id",
        dest="counter_ids",
        type=_positive_int,
        nargs="+",
        action="extend",
        metavar="ID",
        help="only these counters (repeat or list several)",
    )
    p.add_argument("--account-id", type=_positive_int, metavar="ID", help="only this account's counters")
    p.add_argument(
        "--from",
        dest="first",
        type=_day_or_month,
        metavar="DATE",
        help="from this day (YYYY-MM-DD, or YYYY-MM: its first day); monthly: the months it touches",
    )
    p.add_argument(
        "--to",
        dest="last",
        type=_day_or_month,
        metavar="DATE",
        help="through this day (YYYY-MM-DD, or YYYY-MM: its last day)",
    )
    p.add_argument(
        "--format",
        choices=("csv", "jsonl"),
        help="csv (a header row, then one row each) or jsonl (one JSON object a line); default: "
        "jsonl for an --output ending .jsonl or .ndjson, else csv",
    )
    p.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write to FILE (via a temporary file renamed when complete) instead of stdout",
    )

    p = sub.add_parser("db", help="database tools: copy one store into another")
    _common(p, default=s)
    dbs = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    d = dbs.add_parser(
        "copy",
        help="copy accounts, counters, statistics and history from one database into another",
        description="Copy every table of user data (accounts, counters, statistics, raw answers, job "
        "history, sync runs, the event log, the day's quota use) from SOURCE into DEST, with their ids. "
        "Leases are not copied: a running job arrives queued. DEST is created if missing; one that "
        "holds data is refused unless --replace. Stop the processes using either first.",
    )
    _common(d, default=s)
    d.add_argument("source", metavar="SOURCE", help="the database to copy from")
    d.add_argument(
        "dest",
        metavar="DEST",
        nargs="?",
        help="the database to copy into (default: the configured one: --db, METRIKA_DB, [database] path)",
    )
    d.add_argument("--replace", action="store_true", help="delete what DEST holds first")

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


_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def _seconds(text: str) -> float | None:
    """Seconds ('360'), or amounts with units ('90s', '10m', '1h30m', '2d'); None if neither."""
    compact = "".join(text.split()).lower()
    if re.fullmatch(r"\d+(\.\d+)?", compact):
        return float(compact)
    if re.fullmatch(r"(\d+(\.\d+)?[dhms])+", compact):
        return sum(float(n) * _UNIT_SECONDS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([dhms])", compact))
    return None


def _span(what: str, longest: str, *, zero: bool = True) -> Callable[[str], dt.timedelta]:
    """An argparse type: a time as `_seconds` reads it, from zero (or above it) to `longest`."""
    most = _seconds(longest)
    if most is None:
        raise ValueError(f"not a time: {longest!r}")

    def parse(text: str) -> dt.timedelta:
        if text.strip().startswith("-"):
            raise argparse.ArgumentTypeError(f"{what} cannot be negative, got {text!r}")
        seconds = _seconds(text)
        if seconds is None:
            raise argparse.ArgumentTypeError(f"expected seconds or a time like 90s, 10m, 1h30m, got {text!r}")
        if not zero and seconds == 0:
            raise argparse.ArgumentTypeError(f"{what} must be above zero, got {text!r}")
        if seconds > most:
            raise argparse.ArgumentTypeError(f"{what} of at most {longest}, got {text!r}")
        return dt.timedelta(seconds=seconds)

    return parse


#: --max-wait: every Metrika quota resets within a day
_wait = _span("a wait", "24h")
#: health --max-age: data a year old is no longer a question of freshness
_age = _span("an age", "366d", zero=False)


@dataclass(frozen=True, slots=True)
class DayOrMonth:
    """A --from/--to bound: a day, or a month (its first day as a start, its last as an end)."""

    first: dt.date
    last: dt.date


def _day_or_month(text: str) -> DayOrMonth:
    compact = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", compact):
            day = dt.date.fromisoformat(compact)
            return DayOrMonth(day, day)
        if re.fullmatch(r"\d{4}-\d{2}", compact):
            first = dt.date.fromisoformat(compact + "-01")
            return DayOrMonth(first, month_end(first))
    except ValueError:
        raise argparse.ArgumentTypeError(f"no such date: {text!r}") from None
    raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD or a month as YYYY-MM, got {text!r}")


def _port(text: str) -> int:
    value = _positive_int(text) if text != "0" else 0
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535, got {text!r}")
    return value
