"""`metrika-tui paths`: where everything lives, for support questions and backups."""

from __future__ import annotations

from metrika_tui import locations
from metrika_tui.settings import Settings
from metrika_tui.text import visible


def run_paths(settings: Settings) -> int:
    database = settings.db_path
    pace = locations.pace_file(settings.source_address)
    rows: list[tuple[str, str, bool | None]] = [
        ("config file", str(locations.config_file()), locations.config_file().exists()),
        ("database", f"{database} ({database.kind})", database.exists()),  # a URL shows no password
        ("log file", str(settings.log_file), settings.log_file.exists()),
        ("data directory", str(locations.data_dir()), locations.data_dir().exists()),
        ("request pace", str(pace), pace.exists()),  # shared by the processes sending from this address
    ]
    for label, where, exists in rows:
        state = "  (not created yet)" if exists is False else ""
        print(f"{label:<15} {visible(where)}{state}")
    return 0
