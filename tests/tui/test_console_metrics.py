"""The console serves /metrics too: the real `metrika-tui --demo --metrics-port` in tmux."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tui.test_e2e_tmux import Tmux, pytestmark  # noqa: F401  (the same skips)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def samples(url: str) -> dict[tuple, float]:
    with urllib.request.urlopen(url, timeout=15) as answer:
        text = answer.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.timeout(120)
def test_the_console_serves_metrics_while_it_runs_and_stops_with_it(tmp_path):
    tmux, port = Tmux(tmp_path), free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        tmux.start("--demo", "--metrics-port", str(port))
        tmux.wait_for(f"serving metrics on {url}")
        tmux.wait_for("✓ OK", limit=60)
        deadline = time.monotonic() + 60
        while (got := samples(url)).get(("metrika_counters", (("state", "ok"),))) != 15:
            assert time.monotonic() < deadline, got
            time.sleep(0.5)
        assert got[("metrika_process_role", (("role", "planner"),))] == 1
        assert got[("metrika_workers", ())] > 0
        tmux.press("q")
        assert tmux.exit_code() == 0
    finally:
        tmux.kill()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=5)
