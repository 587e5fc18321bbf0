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


def pace_file(source_address: str | None = None) -> Path:
    """The request pace every metrika-tui process of this user sending from one address shares
    (`metrika.host_pace`): the API's 30 requests/s are per address, not per process. Processes
    bound to another local address (`[api] source_address`) are another host to the API: a
    file of their own."""
    if source_address is None:
        return cache_dir() / "pace"
    return cache_dir() / f"pace-{source_address.replace(':', '_')}"
