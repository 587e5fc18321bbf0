"""Settings from every source, with clear errors; tokens that never print in full."""

from __future__ import annotations

import pickle

import pytest

from metrika_tui.settings import SettingsError, load_settings
from metrika_tui.tokens import Token, mask


def test_defaults_match_the_original(tmp_path):
    s = load_settings(environ={}, config_path=tmp_path / "none.toml")
    assert (s.interval_minutes, s.timezone) == (60, "Europe/Moscow")


def test_a_lease_is_renewed_a_few_times_before_it_runs_out(tmp_path):
    assert load_settings(environ={}, config_path=tmp_path / "none.toml").heartbeat == 10  # of a 30 s lease
    assert load_settings(environ={"METRIKA_LEASE_SECONDS": "6"}, config_path=tmp_path / "none.toml").heartbeat == 2
    chosen = load_settings(
        environ={"METRIKA_LEASE_SECONDS": "6", "METRIKA_HEARTBEAT_SECONDS": "5"}, config_path=tmp_path / "none.toml"
    )
    assert chosen.heartbeat == 5


def test_priority_is_file_then_env_then_flags(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[sync]\ninterval_minutes = 30\ntimezone = "UTC"\nworkers = 2\n')
    s = load_settings(environ={}, config_path=cfg)
    assert (s.interval_minutes, s.timezone, s.workers) == (30, "UTC", 2)
    s = load_settings(environ={"METRIKA_SYNC_INTERVAL_MINUTES": "45"}, config_path=cfg)
    assert s.interval_minutes == 45
    s = load_settings({"interval_minutes": "15"}, environ={"METRIKA_SYNC_INTERVAL_MINUTES": "45"}, config_path=cfg)
    assert s.interval_minutes == 15


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"METRIKA_SYNC_INTERVAL_MINUTES": "-5"}, "METRIKA_SYNC_INTERVAL_MINUTES"),
        ({"METRIKA_SYNC_INTERVAL_MINUTES": "soon"}, "whole number"),
        ({"METRIKA_SYNC_INTERVAL_MINUTES": "0"}, "above zero"),
        ({"APP_TIMEZONE": "Mars/Olympus"}, "unknown time zone"),
        ({"METRIKA_WORKERS": "1.5"}, "METRIKA_WORKERS"),
        ({"METRIKA_API_URL": "api.example"}, "http://"),
        ({"METRIKA_HEARTBEAT_SECONDS": "30"}, r"heartbeat-seconds \(30\) must be shorter than lease-seconds \(30\)"),
        ({"METRIKA_MAX_LOST": "0"}, "max-lost"),
        (
            {"METRIKA_SOURCE_ADDRESS": "host-2.example"},
            r"source-address \(from \$METRIKA_SOURCE_ADDRESS\) must be an IP",
        ),
        ({"METRIKA_SOURCE_ADDRESS": "0.0.0.0"}, "must be one address of this machine"),
        ({"METRIKA_SOURCE_ADDRESS": "192.0.2.7"}, "192.0.2.7 is not an address of this machine"),
    ],
)
def test_bad_values_name_the_setting(tmp_path, env, fragment):
    with pytest.raises(SettingsError, match=fragment):
        load_settings(environ=env, config_path=tmp_path / "none.toml")


def test_a_source_address_of_this_machine_is_taken(tmp_path):
    s = load_settings(environ={"METRIKA_SOURCE_ADDRESS": " 127.0.0.3 "}, config_path=tmp_path / "none.toml")
    assert s.source_address == "127.0.0.3"
    assert load_settings(environ={}, config_path=tmp_path / "none.toml").source_address is None


def test_broken_config_file_is_a_clear_error(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[sync\ninterval = ")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(environ={}, config_path=cfg)
    cfg.write_text("[sync]\ninterval_minutes = 'x'\n")
    with pytest.raises(SettingsError, match=r"\[sync.interval_minutes\]"):
        load_settings(environ={}, config_path=cfg)


def test_demo_uses_its_own_database(tmp_path):
    s = load_settings({"demo": True}, environ={"METRIKA_DATA_DIR": str(tmp_path)}, config_path=tmp_path / "n")
    assert s.demo and s.db_path.path is not None and s.db_path.path.name == "demo.db"


def test_token_never_prints_in_full():
    secret = "y0_AgAAAAAbcdefghijklmnopqrstuvwxyz0123456789"
    token = Token(secret)
    for shown in (str(token), repr(token), f"{token}", f"{token!r}", str([token]), token.masked):
        assert secret not in shown
        assert secret[4:-4] not in shown
    assert token.reveal() == secret
    assert mask(secret).startswith("y0_A") and mask(secret).endswith("6789")
    with pytest.raises(TypeError):
        pickle.dumps(token)


@pytest.mark.parametrize("raw", ["", "   ", "two words"])
def test_unusable_tokens_are_refused(raw):
    with pytest.raises(ValueError):
        Token(raw)
