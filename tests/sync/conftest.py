"""Every test here runs on a frozen clock: a job left waiting would wait forever, so a broken
engine must fail within seconds instead of hanging the suite.

And every test here runs twice, on each store backend (`store_backend`): a SQLite file, then a
PostgreSQL database; each `rig()` opens a fresh store of that backend. A test of SQLite's files alone is marked
`sqlite_only` and runs once."""

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
    sqlite_only = [
        item
        for item in items
        if item.get_closest_marker("sqlite_only")
        and getattr(item, "callspec", None)
        and item.callspec.params.get("store_backend") == "postgres"
    ]
    if sqlite_only:
        config.hook.pytest_deselected(items=sqlite_only)
        items[:] = [item for item in items if item not in sqlite_only]
    _frozen_clock_timeouts(items)


def _frozen_clock_timeouts(items):
    for item in items:
        if item.path.parent.name == "sync" and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(30))
