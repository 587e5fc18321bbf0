"""`metrika-tui db copy SOURCE [DEST] [--replace]`: move a store to another database (a SQLite
file to another, to PostgreSQL or back). DEST is by default the configured database (`--db`,
METRIKA_DB, `[database] path`): a PostgreSQL password stays out of argv.

Only counts are printed: the rows (tokens among them) never leave the two databases.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from metrika_tui.cli.errors import EXIT_OK, EXIT_USAGE, CommandError
from metrika_tui.settings import Settings
from metrika_tui.store_location import LocationError, StoreLocation
from metrika_tui.text import visible


def run_db(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "copy":
        source = _location("SOURCE", args.source)
        dest = _location("DEST", args.dest) if args.dest is not None else settings.db_path
        if source.path is not None and not source.path.is_file():
            raise CommandError(f"SOURCE {visible(source)}: no such database file", EXIT_USAGE)
        if _same(source, dest):
            raise CommandError("SOURCE and DEST are the same database: nothing to copy", EXIT_USAGE)
        return asyncio.run(_copy(source, dest, replace=args.replace))
    raise CommandError(f"unknown db action {args.action!r}", EXIT_USAGE)


def _location(name: str, raw: str) -> StoreLocation:
    """A path or a URL from the command line; a password there is refused (argv is readable by
    every user of the machine): ~/.pgpass or PGPASSWORD give it, or the configured database."""
    try:
        location = StoreLocation.parse(raw)
    except LocationError as exc:
        raise CommandError(f"{name}: {exc}", EXIT_USAGE) from None
    if location.password is not None:
        raise CommandError(
            f"{name}: a password on the command line is readable by every user of this machine; leave it"
            " out (~/.pgpass or PGPASSWORD give it), or make that database the configured one"
            " (METRIKA_DB or the config file) and leave DEST out",
            EXIT_USAGE,
        )
    return location


def _same(a: StoreLocation, b: StoreLocation) -> bool:
    if a.path is not None and b.path is not None:
        return b.path.exists() and a.path.resolve() == b.path.resolve()
    return a.url is not None and a.url == b.url


async def _copy(source: StoreLocation, dest: StoreLocation, *, replace: bool) -> int:
    from metrika_tui.store import Store
    from metrika_tui.store.copy import DestinationNotEmpty, copy_store

    reader = await Store.open(source)
    try:
        writer = await Store.open(dest)
        try:
            report = await copy_store(reader, writer, replace=replace)
        except DestinationNotEmpty as exc:
            raise CommandError(f"DEST {visible(dest)}: {exc}; add --replace to overwrite it") from None
        finally:
            await writer.close()
    finally:
        await reader.close()
    out = sys.stdout
    print(f"copied {visible(source)} ({source.kind}) into {visible(dest)} ({dest.kind}):", file=out)
    width = max(map(len, report.rows))
    for table, rows in report.rows.items():
        print(f"  {table:<{width}}  {rows:>10,}", file=out)
    if report.leases_dropped:
        print(f"  {report.leases_dropped} running job(s) copied as queued: their leases stay behind", file=out)
    return EXIT_OK
