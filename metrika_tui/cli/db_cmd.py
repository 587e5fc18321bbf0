"""`metrika-tui db copy SOURCE [DEST] [--replace]`: move a store to another database (a SQLite
file to another, to PostgreSQL or back). DEST is by default the configured database (`--db`,
METRIKA_DB, `[database] path`): a PostgreSQL password stays out of argv.

Only counts are printed: the rows (tokens among them) never leave the two databases.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from metrika_tui.cli.errors import EXIT_OK, EXIT_USAGE, CommandError
from metrika_tui.settings import Settings
from metrika_tui.text import visible


def run_db(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "copy":
        source = Path(args.source).expanduser()
        dest = Path(args.dest).expanduser() if args.dest is not None else Path(settings.db_path)
        if not source.is_file():
            raise CommandError(f"SOURCE {visible(source)}: no such database file", EXIT_USAGE)
        if dest.exists() and dest.resolve() == source.resolve():
            raise CommandError("SOURCE and DEST are the same database: nothing to copy", EXIT_USAGE)
        return asyncio.run(_copy(source, dest, replace=args.replace))
    raise CommandError(f"unknown db action {args.action!r}", EXIT_USAGE)


async def _copy(source: Path, dest: Path, *, replace: bool) -> int:
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
    print(f"copied {visible(source)} into {visible(dest)}:", file=out)
    width = max(map(len, report.rows))
    for table, rows in report.rows.items():
        print(f"  {table:<{width}}  {rows:>10,}", file=out)
    if report.leases_dropped:
        print(f"  {report.leases_dropped} running job(s) copied as queued: their leases stay behind", file=out)
    return EXIT_OK
