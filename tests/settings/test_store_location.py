"""`--db` / `METRIKA_DB` / `[database] path`: a SQLite path or a PostgreSQL URL, whose password
is never shown, and never taken from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from metrika_tui.settings import Settings, SettingsError, load_settings
from metrika_tui.store_location import LocationError, StoreLocation

SECRET = "s3cr3t-pa55"


def test_a_path_is_a_sqlite_file(tmp_path):
    location = StoreLocation.parse(str(tmp_path / "m.db"))
    assert (location.path, location.url, location.kind) == (tmp_path / "m.db", None, "SQLite")
    assert str(location) == str(tmp_path / "m.db")
    assert StoreLocation.parse("~/m.db").path == Path.home() / "m.db"


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_url_is_postgres_and_its_password_is_masked(scheme):
    location = StoreLocation.parse(f"{scheme}://sync:{SECRET}@db.example:5432/metrika")
    assert location.is_postgres and location.kind == "PostgreSQL"
    assert (location.password, location.database) == (SECRET, "metrika")
    assert str(location) == f"{scheme}://sync:***@db.example:5432/metrika"
    assert SECRET not in repr(location) and SECRET not in f"{location}"
    assert SECRET not in repr(Settings(db_path=location))


def test_a_password_in_the_query_and_percent_encoded_is_masked_too():
    location = StoreLocation.parse("postgresql://sync@h/db?sslmode=require&password=p%40ss-word")
    assert location.password == "p@ss-word"
    assert str(location) == "postgresql://sync@h/db?sslmode=require&password=***"
    encoded = StoreLocation.parse("postgresql://sync:p%40ss-word@h/db")
    assert encoded.password == "p@ss-word" and "p%40ss" not in str(encoded)


def test_scrub_takes_the_password_out_of_a_driver_message():
    location = StoreLocation.parse(f"postgresql://sync:{SECRET}@h:5432/db")
    message = f"invalid dsn: 'host=h password={SECRET} dbname=db' (from postgresql://sync:{SECRET}@h:5432/db)"
    scrubbed = location.scrub(message)
    assert SECRET not in scrubbed
    assert "password=***" in scrubbed and "postgresql://sync:***@h:5432/db" in scrubbed


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("mysql://u@h/db", "'mysql' is not a database this program knows"),
        ("postgresql://h:99999/db", "the port is not a number"),
        ("postgresql://h:port/db", "the port is not a number"),
        ("postgresql://h/", "names no database"),
        ("postgresql://h/a/b", "cannot hold '/'"),
        ("postgresql://h/db?colour=red", "unknown URL parameter 'colour'"),
        ("postgresql://h/db#x", "no '#' part"),
    ],
)
def test_a_bad_url_says_what_is_wrong(raw, words):
    with pytest.raises(LocationError, match=words):
        StoreLocation.parse(raw)


def test_a_url_from_the_environment_or_the_file_is_taken(tmp_path):
    url = f"postgresql://sync:{SECRET}@h:5432/db"
    assert load_settings(environ={"METRIKA_DB": url}, config_path=tmp_path / "none.toml").db_path.url == url
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\npath = "{url}"\n')
    assert load_settings(environ={}, config_path=config).db_path.password == SECRET


def test_a_password_in_a_db_flag_is_refused_without_echoing_it(tmp_path):
    with pytest.raises(SettingsError) as caught:
        load_settings({"db_path": f"postgresql://sync:{SECRET}@h/db"}, environ={}, config_path=tmp_path / "x.toml")
    assert "METRIKA_DB" in str(caught.value) and "config file" in str(caught.value)
    assert SECRET not in str(caught.value)
    flagged = load_settings({"db_path": "postgresql://sync@h/db"}, environ={}, config_path=tmp_path / "x.toml")
    assert flagged.db_path.url == "postgresql://sync@h/db"  # no password: a .pgpass or the server's trust


def test_a_bad_url_stops_the_command_with_exit_2_naming_the_setting(tmp_path):
    env = {"METRIKA_DB": f"mysql://sync:{SECRET}@h/db", "METRIKA_CONFIG": str(tmp_path / "none.toml")}
    proc = subprocess.run(
        [sys.executable, "-m", "metrika_tui", "paths"], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    assert "db-path (from $METRIKA_DB)" in proc.stderr and "'mysql' is not a database" in proc.stderr
    assert SECRET not in proc.stderr and "Traceback" not in proc.stderr


def test_paths_names_the_server_with_the_password_masked(tmp_path):
    env = {
        "METRIKA_DB": f"postgresql://sync:{SECRET}@db.example:5432/metrika",
        "METRIKA_CONFIG": str(tmp_path / "none.toml"),
        "METRIKA_DATA_DIR": str(tmp_path / "data"),
        "METRIKA_CACHE_DIR": str(tmp_path / "cache"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "metrika_tui", "paths"], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "postgresql://sync:***@db.example:5432/metrika (PostgreSQL)" in proc.stdout
    assert SECRET not in proc.stdout + proc.stderr


def test_the_console_header_names_the_server_with_the_password_masked():
    from metrika_tui.engine.runtime import Runtime

    runtime = Runtime(Settings(db_path=StoreLocation.parse(f"postgresql://sync:{SECRET}@db.example:5432/m")))
    assert runtime.describe_db == "postgresql://sync:***@db.example:5432/m"
