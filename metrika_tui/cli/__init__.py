"""`metrika-tui`: the command line. `main` (in `cli.main`) parses, loads settings, dispatches
to one command module and turns every expected failure into one clear line on stderr."""

from metrika_tui.cli.main import main

__all__ = ["main"]
