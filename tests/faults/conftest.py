"""The fault suite: bounded for CI by default, longer with METRIKA_SOAK=1.

Every test that draws random timings takes the `fault_seed` fixture: the seed comes from
METRIKA_FAULT_SEED when set (to replay a failure), else a fresh one per run, and a failing
test prints it.
"""

from __future__ import annotations

import os
import random
import time

import pytest

#: METRIKA_SOAK=1: more kills, bigger worlds, more passes (minutes, not seconds)
SOAK = os.environ.get("METRIKA_SOAK", "") not in ("", "0")


def soak(ci, long):
    """The CI figure, or the soak one."""
    return long if SOAK else ci


@pytest.fixture
def fault_seed(request) -> int:
    seed = int(os.environ.get("METRIKA_FAULT_SEED") or time.time_ns() % 1_000_000_007)
    request.node.fault_seed = seed
    return seed


@pytest.fixture
def rng(fault_seed) -> random.Random:
    return random.Random(fault_seed)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    seed = getattr(item, "fault_seed", None)
    if seed is not None and report.failed:
        report.sections.append(("fault seed", f"seed {seed}: replay with METRIKA_FAULT_SEED={seed}"))
    return report
