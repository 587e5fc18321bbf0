"""`metrika-tui accounts login`, the real command against the simulated Yandex ID on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from metrika_tui.simulator import OAuthConfig, Simulator, SimulatorConfig, World

OAUTH = OAuthConfig(interval=1.0, code_lifetime=30.0)
APP = {"METRIKA_CLIENT_ID": OAUTH.client_id, "METRIKA_CLIENT_SECRET": OAUTH.client_secret}


@dataclass
class Cli:
    env: dict[str, str]
    db: Path
    world: World
    sim: Simulator

    def run(self, *args: str, check_code: int | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "-m", "metrika_tui", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=90,
            stdin=subprocess.DEVNULL,
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        if check_code is not None:
            assert proc.returncode == check_code, (proc.stdout, proc.stderr)
        return proc

    def json(self, *args: str):
        return json.loads(self.run(*args, check_code=0).stdout)


@pytest.fixture
def login_cli(tmp_path, make_env):
    world = World.generate(seed=71, accounts=2, counters_per_account=3)
    sim = Simulator(world, SimulatorConfig(oauth=OAUTH))
    with sim.serve_in_thread(host="127.0.0.1", port=0) as base_url:
        yield Cli(env=make_env(base_url) | APP, db=tmp_path / "metrika.db", world=world, sim=sim)


def start_login(cli: Cli, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "metrika_tui", "accounts", "login", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or cli.env,
    )


def pending_code(cli: Cli, limit: float = 20.0):
    deadline = time.monotonic() + limit
    while not (waiting := cli.sim.yandex_id.pending()):
        assert time.monotonic() < deadline, "the command never asked for a code"
        time.sleep(0.05)
    return waiting[-1]


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err
    return proc.returncode, out, err


def secrets_of(cli: Cli) -> list[str]:
    """Every secret this login involved: tokens, refresh tokens, device codes, the client secret."""
    yid = cli.sim.yandex_id
    return [
        OAUTH.client_secret,
        *yid.tokens,
        *yid.refresh_tokens,
        *(t.refresh_token for t in yid.tokens.values()),
        *yid.logins,
    ]


@pytest.mark.slow
def test_an_approved_login_adds_the_account_with_its_login_id_and_counters(login_cli):
    cli = login_cli
    proc = start_login(cli)
    code = pending_code(cli)
    cli.sim.yandex_id.approve(code.user_code, login=cli.world.accounts[1].login)
    rc, out, err = finish(proc)
    assert rc == 0, err
    assert code.user_code in out and "https://ya.ru/device" in out and "Waiting up to 30s" in out
    assert f"login {cli.world.accounts[1].login} (Yandex id {cli.world.accounts[1].uid})" in out
    assert "3 counter(s) discovered" in out
    (account,) = cli.json("accounts", "list", "--json")
    assert (account["login"], account["uid"], account["refreshable"]) == (
        cli.world.accounts[1].login,
        cli.world.accounts[1].uid,
        True,
    )
    assert account["token_expires_at"]
    counters = cli.json("counters", "list", "--json")
    assert sorted(c["counter_id"] for c in counters) == list(cli.world.accounts[1].counter_ids)
    polls = code.polls
    assert all((b - a).total_seconds() >= OAUTH.interval - 0.05 for a, b in zip(polls, polls[1:]))
    assert code.slow_downs == 0  # the interval was kept: never told to slow down

    cli.run("sync", check_code=0)
    status = cli.json("sync-status", "--json")
    assert status["accounts"][0]["token_expires_at"] == account["token_expires_at"]
    shown = out + err + cli.run("sync-status").stdout + cli.run("accounts", "list").stdout
    shown += "".join(p.read_text() for p in cli.db.parent.rglob("*.log"))
    for secret in secrets_of(cli):
        assert secret not in shown, "a secret reached the output or the log"


def test_a_denied_login_stores_nothing_and_exits_1(login_cli):
    proc = start_login(login_cli)
    login_cli.sim.yandex_id.deny(pending_code(login_cli).user_code)
    rc, _, err = finish(proc)
    assert rc == 1 and "denied" in err and "nothing was stored" in err
    assert login_cli.json("accounts", "list", "--json") == []


def test_an_expired_code_exits_1_and_says_what_to_do(login_cli):
    proc = start_login(login_cli)
    login_cli.sim.yandex_id.expire(pending_code(login_cli).user_code)
    rc, _, err = finish(proc)
    assert rc == 1 and "expired" in err and "accounts login" in err
    assert login_cli.json("accounts", "list", "--json") == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_cancels_cleanly(login_cli, sig):
    proc = start_login(login_cli)
    code = pending_code(login_cli)
    time.sleep(0.3)
    os.kill(proc.pid, sig)
    rc, _, err = finish(proc)
    assert rc == 1 and "login cancelled: nothing was stored" in err
    polls = len(code.polls)
    time.sleep(OAUTH.interval * 1.5)
    assert len(code.polls) == polls  # it stopped asking
    assert login_cli.json("accounts", "list", "--json") == []


def test_without_an_app_it_says_where_to_put_one(login_cli):
    env = {k: v for k, v in login_cli.env.items() if k not in APP}
    rc, _, err = finish(start_login(login_cli, env=env))
    assert rc == 2 and "[oauth] client_id" in err and "METRIKA_CLIENT_SECRET" in err


def test_a_wrong_client_secret_is_named_and_never_shown(login_cli):
    env = login_cli.env | {"METRIKA_CLIENT_SECRET": "not-the-secret-at-all-123456"}
    proc = start_login(login_cli, env=env)
    login_cli.sim.yandex_id.approve(pending_code(login_cli).user_code)
    rc, out, err = finish(proc)
    assert rc == 1 and "client_secret" in err and "Wrong client secret" in err
    assert "not-the-secret-at-all-123456" not in out + err


@pytest.mark.slow
def test_the_demo_login_approves_by_itself(tmp_path, make_env):
    env = make_env("http://127.0.0.1:9")  # --demo brings its own simulator
    proc = subprocess.run(
        [sys.executable, "-m", "metrika_tui", "--demo", "accounts", "login"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert "login Delta-Ads" in proc.stdout and "3 counter(s) discovered" in proc.stdout
