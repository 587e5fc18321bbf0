"""The deploy files call the command the way it parses: the Docker HEALTHCHECK and the systemd
health unit run `metrika-tui health`, the daemon's units `--headless`."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from metrika_tui.cli.parser import build_parser
from metrika_tui.store_location import StoreLocation

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


def test_the_compose_example_runs_two_daemons_on_one_postgresql_with_no_password_in_it():
    text = (DEPLOY / "compose.yaml").read_text()
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())  # comments left out
    (command,) = re.findall(r"^  command: (\[.*\])$", code, re.MULTILINE)  # the hosts' anchor
    assert build_parser().parse_args(json.loads(command)).headless
    hosts = re.findall(r"^  (host-\d+):\n    <<: \*host$", code, re.MULTILINE)
    assert hosts == ["host-1", "host-2"]
    assert re.search(r"^  postgres:\n    image: postgres:\d+$", code, re.MULTILINE)
    assert "condition: service_healthy" in code and "EXTRAS: postgres" in code
    assert "postgresql://" not in code and "PASSWORD" not in code.replace("env_file", "")  # the env file holds it
    env = dict(line.split("=", 1) for line in (DEPLOY / "metrika.env.example").read_text().splitlines() if "=" in line)
    password = env["POSTGRES_PASSWORD"]
    assert env["METRIKA_DB"] == f"postgresql://metrika:{password}@postgres:5432/metrika"
    location = StoreLocation.parse(env["METRIKA_DB"])  # the setting takes it
    assert location.is_postgres and location.password == password and password not in str(location)
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "ARG EXTRAS" in dockerfile and '".${EXTRAS:+[$EXTRAS]}"' in dockerfile
    extras = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(d.startswith("psycopg") for d in extras["postgres"])  # what EXTRAS=postgres installs
