"""`metrika-tui --headless --metrics-port`: /metrics scraped from a running daemon during a pass;
the values move as counters sync and the text parses with prometheus_client's own parser."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from metrika_tui.simulator import LatencyConfig, Simulator, SimulatorConfig, World

COMMAND = [sys.executable, "-m", "metrika_tui"]


def scrape(url: str) -> dict[str, dict[tuple, float]]:
    """name -> {labels as sorted pairs: value}, every sample of the exposition."""
    with urllib.request.urlopen(url, timeout=15) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain")
        text = answer.read().decode()
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def one(samples: dict, name: str, **labels) -> float:
    return samples[name][tuple(sorted(labels.items()))]


def add_accounts(env: dict, world: World) -> None:
    for token in world.tokens:
        subprocess.run([*COMMAND, "accounts", "add"], input=token, env=env, text=True, check=True, capture_output=True)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_metrics_move_as_a_pass_syncs_and_the_daemon_never_loads_textual(make_env):
    world = World.generate(seed=17, accounts=3, counters_per_account=8)
    total = 24
    sim = Simulator(world, SimulatorConfig(latency=LatencyConfig(kind="fixed", median_ms=300.0)))
    with sim.serve_in_thread(host="127.0.0.1", port=0) as api:
        env = make_env(api) | {"METRIKA_WORKERS": "2"}
        add_accounts(env, world)
        daemon = subprocess.Popen(
            [sys.executable, "-X", "importtime", *COMMAND[1:], "--headless", "--metrics-port", "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            started = ""
            while "daemon started" not in started:
                started = daemon.stdout.readline()
                assert daemon.poll() is None, daemon.communicate()
            url = re.search(r"metrics on (http://\S+/metrics)", started).group(1)
            seen = []
            deadline = time.monotonic() + 120
            while not seen or one(seen[-1], "metrika_counters", state="ok") < total:
                assert time.monotonic() < deadline, seen[-1]
                seen.append(scrape(url))
                time.sleep(0.3)
            time.sleep(1.5)  # the pass's end is told by the last DONE
            final = scrape(url)
        finally:
            daemon.send_signal(signal.SIGTERM)
            _, err = daemon.communicate(timeout=40)
    assert daemon.returncode == 0

    mid = [s for s in seen if 0 < one(s, "metrika_counters", state="ok") < total]
    assert mid, "no scrape landed during the pass"
    assert any(one(s, "metrika_jobs", status="queued") + one(s, "metrika_jobs", status="running") > 0 for s in mid)
    assert any(one(s, "metrika_workers_busy") > 0 for s in mid)
    oks = [one(s, "metrika_api_requests_total", outcome="ok") for s in seen + [final]]
    assert oks == sorted(oks) and oks[0] < oks[-1]  # a counter only grows, and grew
    counted = [one(s, "metrika_counters", state="ok") for s in seen]
    assert counted == sorted(counted)

    assert one(final, "metrika_counters", state="ok") == total
    assert sum(final["metrika_counters"].values()) == total
    assert one(final, "metrika_queue_depth") == 0 and one(final, "metrika_jobs", status="running") == 0
    assert one(final, "metrika_job_runs_total", result="done") == total
    assert one(final, "metrika_api_requests_total", outcome="ok") >= total  # one report a sync, and discovery
    requests = sum(final["metrika_api_requests_total"].values())
    assert one(final, "metrika_api_request_duration_seconds_count") == requests
    assert one(final, "metrika_api_request_duration_seconds_bucket", le="0.25") < requests  # 300 ms each
    assert one(final, "metrika_sync_pass_duration_seconds_count") == 1  # the start-up pass, followed to its end
    assert one(final, "metrika_last_successful_pass_timestamp_seconds") == pytest.approx(time.time(), abs=60)
    assert one(final, "metrika_data_age_seconds_bucket", le="+Inf") == total
    assert 0 <= one(final, "metrika_data_median_age_seconds") <= one(final, "metrika_data_oldest_age_seconds") < 120
    logins = {dict(labels)["login"] for labels in final["metrika_quota_used_ratio"]}
    assert logins == {a.login for a in world.accounts}
    for account in world.accounts:
        used = one(final, "metrika_quota_requests_used", login=account.login)
        assert used >= 8 and one(final, "metrika_quota_used_ratio", login=account.login, window="day") == used / 5000
        assert 0 < one(final, "metrika_quota_used_ratio", login=account.login, window="5m") <= 1
    assert one(final, "metrika_scheduler_state", state="running") == 1
    assert one(final, "metrika_process_role", role="planner") == 1
    assert one(final, "metrika_database_readable") == 1
    assert "process_resident_memory_bytes" in final
    assert not [name for name in final if not name.startswith(("metrika_", "process_"))]
    imported = [line.rsplit("|", 1)[-1].strip() for line in err.splitlines() if line.startswith("import time:")]
    assert "metrika_tui.metrics.server" in imported
    assert not [m for m in imported if m.split(".")[0] == "textual"]


def test_a_port_in_use_stops_the_daemon_at_once(make_env):
    env = make_env("http://127.0.0.1:9")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [*COMMAND, "--headless", "--metrics-port", str(port)], env=env, capture_output=True, text=True, timeout=30
        )
    assert proc.returncode == 2, proc.stderr
    assert f"metrics-port {port} on 127.0.0.1: the port is in use" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""  # nothing started


BAD = {
    # name: (arguments, environment, config file, what stderr says)
    "flag past 65535": (["--headless", "--metrics-port", "70000"], {}, None, "a port is 0..65535"),
    "flag words": (["--headless", "--metrics-port", "ninety"], {}, None, "whole number"),
    "env negative": (["--headless"], {"METRIKA_METRICS_PORT": "-1"}, None, "zero or more"),
    "config past 65535": (["--headless"], {}, "[metrics]\nport = 99999\n", "at most 65535"),
    "config address": (["--headless"], {}, '[metrics]\nport = 9100\naddress = "not a host!"\n', "IP address or a host"),
    "unknown address": (
        ["--headless", "--metrics-port", "0", "--metrics-address", "192.0.2.1"],
        {},
        None,
        "is not an address of this machine",
    ),
    "with a command": (["sync", "--metrics-port", "9100"], {}, None, "unrecognized arguments"),
    "before a command": (["--metrics-port", "9100", "sync"], {}, None, "go with the daemon"),
    "with --once": (["--headless", "--once", "--metrics-port", "9100"], {}, None, "go with the daemon"),
}


@pytest.mark.parametrize(("args", "extra", "config", "fragment"), BAD.values(), ids=BAD.keys())
def test_bad_metrics_settings_are_refused(tmp_path, make_env, args, extra, config, fragment):
    env = make_env("http://127.0.0.1:9") | extra
    if config is not None:
        (tmp_path / "config.toml").write_text(config)
    proc = subprocess.run([*COMMAND, *args], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert fragment in proc.stderr and "Traceback" not in proc.stderr
