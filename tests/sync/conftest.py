"""Every test here runs on a frozen clock: a job left waiting would wait forever, so a broken
engine must fail within seconds instead of hanging the suite.

And every test here runs twice, on each store backend (`store_backend`): a SQLite file, then a
PostgreSQL database; each `rig()` opens a fresh store of that backend. A test of SQLite's files
alone is marked `sqlite_only`, one of what only a shared store does `postgres_only`: each runs
once."""

from __future__ import annotations

import pytest

from metrika_tui.store_location import StoreLocation

from .helpers import RIG_STORES


@pytest.fixture(autouse=True)
def rig_stores(request, store_backend):
    """The rigs of this test open `store_backend`, then (a second rig) fresh ones like it."""
    given = [store_backend]
    made: list[StoreLocation] = []

    def fresh(folder):
        if given:
            return given.pop()
        if not store_backend.is_postgres:
            return StoreLocation.file(folder / "metrika.db")
        made.append(request.getfixturevalue("pg_server").database())
        return made[-1]

    token = RIG_STORES.set(fresh)
    yield
    RIG_STORES.reset(token)
    for location in made:
        request.getfixturevalue("pg_server").drop(location)


def pytest_collection_modifyitems(config, items):
    other = {"sqlite_only": "postgres", "postgres_only": "sqlite"}
    once = [
        item
        for item in items
        for marker, backend in other.items()
        if item.get_closest_marker(marker)
        and getattr(item, "callspec", None)
        and item.callspec.params.get("store_backend") == backend
    ]
    if once:
        config.hook.pytest_deselected(items=once)
        items[:] = [item for item in items if item not in once]
    _frozen_clock_timeouts(items)


def _frozen_clock_timeouts(items):
    for item in items:
        if item.path.parent.name == "sync" and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(30))
