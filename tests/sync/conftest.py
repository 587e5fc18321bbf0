"""Every test here runs on a frozen clock: a job left waiting would wait forever, so a broken
engine must fail within seconds instead of hanging the suite."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.parent.name == "sync" and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(30))
