"""`metrika-tui paths`: where everything lives, for support questions and backups."""

from __future__ import annotations

from metrika_tui import locations
from metrika_tui.settings import Settings
from metrika_tui.text import visible


def run_paths(settings: Settings) -> int:
    rows = [
        ("config file", locations.config_file()),
        ("database", settings.db_path),
        ("log file", settings.log_file),
        ("data directory", locations.data_dir()),
        ("request pace", locations.pace_file(settings.source_address)),  # shared by this address's processes
    ]
    for label, path in rows:
        state = "" if path.exists() else "  (not created yet)"
        print(f"{label:<15} {visible(path)}{state}")
    return 0
