"""Bad input of every kind the commands, the environment and the config file accept: each is one
clear line on stderr and a non-zero exit, never a traceback, and nothing is changed.

tests/cli/test_commands.py has the first cases of each kind (an unknown id per command, a
negative or non-numeric interval and an unknown zone from the environment, a broken TOML file,
a database under a file, a file that is not a database); these are the rest: every other
source of the same settings, values past what the program can hold, config files that are
unreadable or the wrong shape, databases it must not touch, and each on the other commands.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess

import pytest

from .harness import Processes

SETTINGS = {
    # name: (command line, environment, config file, what stderr must say)
    "interval flag negative": (["--interval-minutes", "-5", "sync"], {}, None, "above zero"),
    "interval flag words": (["sync", "--interval-minutes", "hourly"], {}, None, "whole number"),
    "interval flag zero": (["--headless", "--once", "--interval-minutes", "0"], {}, None, "above zero"),
    "interval env fraction": (["sync"], {"METRIKA_SYNC_INTERVAL_MINUTES": "1.5"}, None, "whole number"),
    "interval past a year": (["sync-status"], {"METRIKA_SYNC_INTERVAL_MINUTES": "99999999999999"}, None, "at most"),
    "interval config negative": (["sync"], {}, "[sync]\ninterval_minutes = -1\n", "above zero"),
    "interval config words": (["sync-status"], {}, '[sync]\ninterval_minutes = "often"\n', "whole number"),
    "interval config float": (["sync-status"], {}, "[sync]\ninterval_minutes = 2.5\n", "whole number"),
    "interval config bool": (["sync-status"], {}, "[sync]\ninterval_minutes = true\n", "whole number"),
    "backfill past dates": (["sync"], {"METRIKA_BACKFILL_DAYS": "99999999"}, None, "at most"),
    "lookback past dates": (["sync"], {"METRIKA_LOOKBACK_DAYS": "800000"}, None, "at most"),
    "lookback negative": (["sync"], {"METRIKA_LOOKBACK_DAYS": "-1"}, None, "zero or more"),
    "jobs per token past integers": (["sync"], {"METRIKA_PER_TOKEN_JOBS": "100000000000000000000"}, None, "at most"),
    "attempts past integers": (["sync"], {"METRIKA_MAX_ATTEMPTS": "100000000000000000000"}, None, "at most"),
    "workers config words": (["sync"], {}, '[sync]\nworkers = "many"\n', "whole number"),
    "workers flag negative": (["sync", "--workers", "-2"], {}, None, "above zero"),
    "lease negative": (["--headless", "--once"], {"METRIKA_LEASE_SECONDS": "-1"}, None, "above zero"),
    "rate not a number": (["sync"], {"METRIKA_MAX_RPS": "nan"}, None, "above zero"),
    "timeout zero": (["sync"], {"METRIKA_REQUEST_TIMEOUT": "0"}, None, "above zero"),
    "zone flag": (["--headless", "--once", "--timezone", "Mars/Olympus"], {}, None, "unknown time zone"),
    "zone config": (["sync"], {}, '[sync]\ntimezone = "Europe/Atlantis"\n', "unknown time zone"),
    "zone config number": (["sync-status"], {}, "[sync]\ntimezone = 3\n", "unknown time zone"),
    "zone env path": (["sync-status"], {"APP_TIMEZONE": "../../etc/passwd"}, None, "unknown time zone"),
    "api url without scheme": (["sync"], {}, '[api]\nurl = "api-metrika.yandex.net"\n', "http://"),
    "api url broken IPv6": (["sync"], {"METRIKA_API_URL": "http://[::1"}, None, "not a usable URL"),
    "api url port past 65535": (
        ["sync-status"],
        {"METRIKA_API_URL": "http://127.0.0.1:99999"},
        None,
        "Port out of range",
    ),
    "api url port zero": (["sync", "--api-url", "http://127.0.0.1:0"], {}, None, "1-65535"),
    "api url without a host": (["sync"], {"METRIKA_API_URL": "http://:80/"}, None, "no host name"),
    "api url with a password": (
        ["sync"],
        {},
        '[api]\nurl = "https://me:secret@api-metrika.yandex.net"\n',
        "must not hold a user or password",
    ),
    "api url with a control": (["sync"], {"METRIKA_API_URL": "http://127.0.0.1/\x1b[2J"}, None, "printable ASCII"),
    "rate vanishingly small": (["sync"], {"METRIKA_MAX_RPS": "1e-300"}, None, "between 0.1 and 1000"),
    "rate past a thousand": (["sync"], {}, "[api]\nmax_rps = 5000\n", "between 0.1 and 1000"),
    "deadline under the timeout": (
        ["sync"],
        {"METRIKA_REQUEST_DEADLINE_SECONDS": "5"},
        None,
        "at least request-timeout",
    ),
    "deadline past a day": (["sync"], {}, "[api]\nrequest_deadline_seconds = 1e9\n", "between 1 and 86400"),
    "answer cap too small": (["sync"], {}, "[api]\nmax_answer_bytes = 100\n", "at least 65536"),
    "report window past a day": (["sync"], {}, "[api]\nreport_window_seconds = 100000\n", "at most 86400"),
    "log format": (["--headless", "--once"], {"METRIKA_LOG_FORMAT": "xml"}, None, "'text' or 'json'"),
    "config not UTF-8": (["sync-status"], {}, b"\xff\xfe[sync]\x00\x01 garbage", "not UTF-8"),
    "config section not a table": (["sync"], {}, "sync = 5\n", "[sync] must be a table"),
    "config keys not strings": (["sync-status"], {}, "[keys]\nquit = 5\n", "key string"),
    "config truncated": (["--headless", "--once"], {}, '[sync]\ntimezone = "Europe/Mos', "not valid TOML"),
    # a name the program does not read is a mistake, never silently ignored (the default used instead)
    "config section misspelt": (["sync"], {}, '[databse]\npath = "/tmp/elsewhere.db"\n', "did you mean 'database'?"),
    "config key misspelt": (["sync-status"], {}, "[sync]\ninterval_minuts = 5\n", "did you mean 'interval_minutes'?"),
    "config key above the sections": (["--headless", "--once"], {}, "interval_minutes = 5\n", "belongs under [sync]"),
    "config binding id misspelt": (["sync-status"], {}, '[keys]\nforce-synk = "x"\n', "did you mean 'force-sync'?"),
    "config key bound twice": (["--headless", "--once"], {}, '[keys]\nforce-sync = "d"\n', "'d' is bound to both"),
}


def refused(proc: subprocess.CompletedProcess, code: int, fragment: str) -> None:
    """One clear line (or argparse's usage) on stderr, this exit code, no traceback anywhere."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert fragment in proc.stderr, proc.stderr
    assert proc.stderr.startswith("metrika-tui:") or "usage" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.fixture
def offline(tmp_path, make_env) -> Processes:
    """The command with no API to reach (port 9, discard): these refusals come before any request."""
    return Processes(make_env("http://127.0.0.1:9"), tmp_path)


@pytest.mark.parametrize(("args", "env", "config", "fragment"), SETTINGS.values(), ids=SETTINGS.keys())
def test_a_bad_setting_from_any_source_is_refused_before_anything_runs(offline, tmp_path, args, env, config, fragment):
    if config is not None:
        path = tmp_path / "config.toml"
        path.write_bytes(config) if isinstance(config, bytes) else path.write_text(config)
    refused(offline.run(*args, env=env), 2, fragment)
    assert not offline.db.exists()  # refused before the database was even opened


@pytest.mark.parametrize("how", ["stdin", "environment"])
def test_a_token_that_is_not_printable_ascii_is_refused_without_showing_it(offline, how):
    token = "y0_токен_AgAAAAsecretpart"
    env = {"METRIKA_TOKEN": token} if how == "environment" else {}
    proc = offline.run("accounts", "add", stdin=token + "\n" if how == "stdin" else "", env=env)
    refused(proc, 2, "printable ASCII")
    assert "secretpart" not in proc.stdout + proc.stderr and "токен" not in proc.stderr
    assert not offline.db.exists()


def test_an_unreadable_config_file(offline, tmp_path):
    folder = tmp_path / "config-folder"
    folder.mkdir()
    refused(offline.run("sync-status", "--config", str(folder)), 2, "cannot be read")
    if os.geteuid() == 0:  # root reads a chmod 000 file anyway: the folder above stands in for it
        return
    locked = tmp_path / "locked.toml"
    locked.write_text("[sync]\ninterval_minutes = 5\n")
    locked.chmod(0)
    refused(offline.run("sync", env={"METRIKA_CONFIG": str(locked)}), 2, "cannot be read")


DATABASES = ["sync", "sync-status", "accounts list", "--headless --once", "--headless"]


def _unwritable_places(tmp_path) -> dict[str, str]:
    places = {"a folder": str(tmp_path), "under /proc": "/proc/metrika-tui/metrika.db"}
    if os.geteuid() != 0:  # a read-only folder stops everyone but root
        frozen = tmp_path / "frozen"
        frozen.mkdir(mode=0o555)
        places["a read-only folder"] = str(frozen / "metrika.db")
    return places


@pytest.mark.parametrize("command", DATABASES)
def test_an_unwritable_database_path_on_every_command(offline, tmp_path, command):
    for where, path in _unwritable_places(tmp_path).items():
        proc = offline.run(*command.split(), env={"METRIKA_DB": path})
        assert proc.returncode == 1, (where, proc.stdout, proc.stderr)
        assert proc.stderr.startswith("metrika-tui: database:") and path in proc.stderr, (where, proc.stderr)
        assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("command", DATABASES)
def test_a_database_from_a_newer_schema_is_refused_untouched(offline, tmp_path, command):
    newer = tmp_path / "newer.db"
    conn = sqlite3.connect(newer)
    conn.executescript(
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY, future TEXT);"
        "INSERT INTO accounts VALUES (1, 'kept'); PRAGMA user_version = 99;"
    )
    conn.close()
    before = newer.read_bytes()
    proc = offline.run(*command.split(), env={"METRIKA_DB": str(newer)})
    refused(proc, 1, "created by a newer metrika-tui (schema 99")
    assert newer.read_bytes() == before
    assert not newer.with_name("newer.db-wal").exists()  # not even switched to WAL


@pytest.mark.slow
def test_unknown_and_impossible_ids(cli):
    cli.add_all_accounts()
    counters = cli.json("counters", "list", "--json")
    first, other = counters[0], next(c for c in counters if c["account_id"] != counters[0]["account_id"])
    cases = [
        (["counters", "list", "--account-id", "77"], "unknown account id 77"),
        (["counters", "discover", "--account-id", "77"], "unknown account id 77"),
        (["counters", "enable", "4242"], "unknown counter id(s): 4242"),
        (["counters", "disable", str(first["counter_id"]), "4242"], "unknown counter id(s): 4242"),
        (
            ["sync", "--account-id", str(first["account_id"]), "--counter-id", str(other["counter_id"])],
            f"belongs to account {other['account_id']}",
        ),
        (["sync", "--counter-id", "0"], "above zero"),
        (["sync", "--account-id", "-1"], "above zero"),
        (["accounts", "revoke", "abc"], "whole number"),
        (["accounts", "revoke", "99999999999999999999"], "up to 9223372036854775807"),
        (["counters", "disable", "99999999999999999999"], "up to 9223372036854775807"),
    ]
    for args, fragment in cases:
        refused(cli.run(*args), 2, fragment)
    # nothing changed: no counter disabled, nothing queued, no account revoked
    assert cli.json("counters", "list", "--json") == counters
    assert not any(a["revoked"] for a in cli.json("accounts", "list", "--json"))


def test_bad_simulator_options(offline):
    refused(offline.run("simulator", "--port", "70000"), 2, "a port is 0..65535")
    refused(offline.run("simulator", "--fault-rate", "1.5"), 2, "between 0 and 1")
    refused(offline.run("simulator", "--latency-ms", "nan"), 2, "0 or more")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc = offline.run("simulator", "--port", str(taken.getsockname()[1]), timeout=30)
    assert proc.returncode != 0 and "address already in use" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
