"""`metrika-tui`: parse the command line, load settings, dispatch, and turn every expected
failure into one clear line on stderr with a non-zero exit code (never a traceback).

Heavy imports (Textual, the simulator) happen only in the branch that needs them, so
`metrika-tui --headless` never loads the UI.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from metrika_tui.cli.errors import EXIT_FAILED, EXIT_USAGE, CommandError
from metrika_tui.cli.parser import UsageError, build_parser


def main(argv: Sequence[str] | None = None) -> int:
    from metrika_tui.settings import SettingsError

    try:
        args = build_parser().parse_args(argv)
        return _dispatch(args)
    except UsageError as exc:
        return _fail(str(exc), EXIT_USAGE, lines=True)
    except SettingsError as exc:
        return _fail(f"invalid setting: {exc}", EXIT_USAGE)
    except CommandError as exc:
        return _fail(str(exc), exc.code)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as exc:  # the last line of defence: still no traceback for the user
        from metrika_tui.store import StoreError

        if isinstance(exc, StoreError):
            return _fail(f"database: {exc}", EXIT_FAILED)
        if isinstance(exc, OSError):
            return _fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), EXIT_FAILED)
        raise


def _fail(message: str, code: int, *, lines: bool = False) -> int:
    """One line on stderr (or a few, for argparse's usage), outside text in it made visible."""
    from metrika_tui.text import visible

    shown = "\n".join(map(visible, message.split("\n"))) if lines else visible(message)
    print(f"metrika-tui: {shown}", file=sys.stderr)
    return code


def _dispatch(args) -> int:
    import os
    from pathlib import Path

    from metrika_tui import locations
    from metrika_tui.settings import SETTINGS, Settings, load_settings
    from metrika_tui.tui.keymap import check_keymap  # Textual-free: the daemon checks [keys] too

    if args.command == "simulator":
        from metrika_tui.cli.simulator_cmd import run_simulator

        return run_simulator(args)

    if getattr(args, "config", None):
        os.environ["METRIKA_CONFIG"] = args.config
    flags = {s.name: getattr(args, s.name, None) for s in SETTINGS if s.flag}
    flags["demo"] = getattr(args, "demo", False)
    config_path = Path(args.config) if getattr(args, "config", None) else locations.config_file()

    def load() -> Settings:
        """The settings, the whole config file checked: a typo in it stops every command."""
        loaded = load_settings(flags, config_path=config_path)
        check_keymap(loaded.keys, config_path)
        return loaded

    settings = load()

    served = getattr(args, "metrics_port", None) is not None or getattr(args, "metrics_address", None)
    if served and (args.command is not None or args.once):
        raise UsageError("--metrics-port and --metrics-address go with the daemon (--headless) or the console")
    if args.command is None:
        if args.once and not args.headless:
            raise UsageError("--once goes with --headless")
        if args.headless:
            from metrika_tui.headless import run_headless

            return run_headless(settings, once=args.once, reload=load)
        from metrika_tui.cli.console_cmd import run_console_command

        return run_console_command(settings, read_only=args.read_only)
    if args.command == "sync":
        from metrika_tui.cli.sync_cmd import run_sync

        return run_sync(settings, args)
    if args.command == "sync-status":
        from metrika_tui.cli.status_cmd import run_status

        return run_status(settings, args)
    if args.command in ("accounts", "counters"):
        from metrika_tui.cli.manage_cmd import run_manage

        return run_manage(settings, args)
    if args.command == "health":
        from metrika_tui.cli.health_cmd import run_health

        return run_health(settings, args)
    if args.command == "export":
        from metrika_tui.cli.export_cmd import run_export

        return run_export(settings, args)
    if args.command == "db":
        from metrika_tui.cli.db_cmd import run_db

        return run_db(settings, args)
    if args.command == "paths":
        from metrika_tui.cli.paths_cmd import run_paths

        return run_paths(settings)
    raise UsageError(f"unknown command {args.command!r}")
