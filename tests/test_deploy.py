"""The deploy files call the command the way it parses: the Docker HEALTHCHECK and the systemd
health unit run `metrika-tui health`, the daemon's units `--headless`."""

from __future__ import annotations

import json
import re
from pathlib import Path

from metrika_tui.cli.parser import build_parser

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def arguments(line: str) -> list[str]:
    return line.split()[1:]  # past the program's path


def test_the_docker_healthcheck_runs_health():
    text = (DEPLOY / "Dockerfile").read_text()
    (command,) = re.findall(r"^HEALTHCHECK .* CMD (\[.*\])$", text, re.MULTILINE)
    program, *args = json.loads(command)
    assert program == "metrika-tui" and build_parser().parse_args(args).command == "health"


def test_the_systemd_units_run_health_and_the_daemon():
    health = re.search(r"^ExecStart=(.+)$", (DEPLOY / "metrika-tui-health.service").read_text(), re.MULTILINE)
    assert build_parser().parse_args(arguments(health.group(1))).command == "health"
    daemon = re.search(r"^ExecStart=(.+)$", (DEPLOY / "metrika-tui.service").read_text(), re.MULTILINE)
    assert build_parser().parse_args(arguments(daemon.group(1))).headless
    timer = (DEPLOY / "metrika-tui-health.timer").read_text()
    assert "OnUnitActiveSec=" in timer and "WantedBy=timers.target" in timer
