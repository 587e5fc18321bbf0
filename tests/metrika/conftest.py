"""Every client of these tests shares its request pace through a file of the test's own
(`METRIKA_CACHE_DIR`), not the user's cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def own_pace_file(tmp_path, monkeypatch):
    monkeypatch.setenv("METRIKA_CACHE_DIR", str(tmp_path / "cache"))
