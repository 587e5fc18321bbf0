"""Where metrika-tui keeps its files. One place, so `metrika-tui paths` can print them all."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_path, user_config_path, user_data_path

APP = "metrika-tui"


def data_dir() -> Path:
    return Path(os.environ.get("METRIKA_DATA_DIR") or user_data_path(APP, appauthor=False))


def config_file() -> Path:
    explicit = os.environ.get("METRIKA_CONFIG")
    return Path(explicit) if explicit else user_config_path(APP, appauthor=False) / "config.toml"


def default_db() -> Path:
    return data_dir() / "metrika.db"


def demo_db() -> Path:
    return data_dir() / "demo.db"


def default_log_file() -> Path:
    return data_dir() / "logs" / "sync.log"


def cache_dir() -> Path:
    return Path(os.environ.get("METRIKA_CACHE_DIR") or user_cache_path(APP, appauthor=False))


def pace_file() -> Path:
    """The request pace every metrika-tui process of this user on this host shares
    (`metrika.host_pace`): the API's 30 requests/s are per address, not per process."""
    return cache_dir() / "pace"
