"""The config file is read whole, as Harlequin reads its own: a section, key or binding id we do not
know, or two actions on one key, stops the command naming the file, the key and the nearest name.

The table in settings.py is the one declaration of every setting: these tests hold the sources,
the flags, the docs and the keymap check to it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from metrika_tui.cli.config_doc import render
from metrika_tui.cli.parser import build_parser
from metrika_tui.settings import SECTIONS, SETTINGS, Settings, SettingsError, load_settings
from metrika_tui.store_location import StoreLocation
from metrika_tui.tui.keymap import ACTIONS, REMAPPABLE, check_keymap, key_names
from metrika_tui.tui.screens.help import help_rows

ROOT = Path(__file__).resolve().parents[2]

WRONG = {
    # name: (config file, what the message must say, after the file's name)
    "a misspelt section": (
        '[databse]\npath = "/tmp/x.db"\n',
        "unknown section 'databse' in {}; did you mean 'database'?",
    ),
    "a misspelt key": (
        "[sync]\ninterval_minuts = 5\n",
        "unknown key 'interval_minuts' in {} [sync]; did you mean 'interval_minutes'?",
    ),
    "a key above every section": (
        "interval_minutes = 5\n",
        "unknown key 'interval_minutes' at the top of {}; it belongs under [sync]",
    ),
    "an unknown top-level key": ("colour = 'red'\n", "unknown key 'colour' in {}"),
    "a key of another section": ("[sync]\nmax_rps = 5\n", "unknown key 'max_rps' in {} [sync]; it belongs under [api]"),
    "a misspelt binding id": (
        '[keys]\nforce-synk = "x"\n',
        "unknown key binding 'force-synk' in {} [keys]; did you mean 'force-sync'?",
    ),
    "one key, two actions": (
        '[keys]\nforce-sync = "d"\n',
        "{} [keys]: 'd' is bound to both 'force-sync' and 'toggle-active'",
    ),
    "one key, two actions, as the help spells it": (
        '[keys]\nsort = "?"\n',
        "{} [keys]: '?' is bound to both 'help' and 'sort'",
    ),
    "an action on the quit key": (
        '[keys]\nretry-failed = "x, q"\n',
        "{} [keys]: 'q' is bound to both 'retry-failed' and 'quit'",
    ),
    "a binding with no key": ('[keys]\nhelp = ""\n', "{} [keys]: 'help' has no key"),
}


def load(config_path: Path) -> Settings:
    """As the CLI loads: the settings, then their [keys] checked."""
    settings = load_settings(environ={}, config_path=config_path)
    check_keymap(settings.keys, config_path)
    return settings


@pytest.mark.parametrize(("config", "message"), WRONG.values(), ids=WRONG.keys())
def test_a_config_with_a_name_we_do_not_know_fails(tmp_path, config, message):
    path = tmp_path / "config.toml"
    path.write_text(config)
    with pytest.raises(SettingsError) as caught:
        load(path)
    assert str(caught.value) == message.format(path)


def test_every_key_of_the_table_is_read_from_its_section(tmp_path):
    """One file holding every key of every section (each at its default) is accepted whole."""
    path = tmp_path / "config.toml"
    defaults = Settings()
    lines = []
    for section, keys in SECTIONS.items():
        lines.append(f"[{section}]")
        for s in SETTINGS:
            value = getattr(defaults, s.name)
            if s.section == section and s.key in keys and value not in (None, ""):
                shown = isinstance(value, Path | StoreLocation)
                lines.append(f'{s.key} = "{value}"' if shown else f"{s.key} = {value!r}")
    lines += ["[keys]", 'force-sync = "x"', 'toggle-active = "f"']  # a swap through a free key is fine
    path.write_text("\n".join(lines).replace("'", '"') + "\n")
    assert load(path).keys == {"force-sync": "x", "toggle-active": "f"}


def test_each_flag_of_the_table_is_a_flag_of_the_command():
    parser = build_parser()
    flagged = [s for s in SETTINGS if s.flag]
    assert {s.name for s in flagged} >= {"db_path", "interval_minutes", "workers", "log_format"}
    for s in flagged:
        value = "json" if s.name == "log_format" else "7"
        assert str(getattr(parser.parse_args([s.flag, value]), s.name)) == value, s.flag
        assert s.env in parser.format_help(), s.env  # its help names the table's env variable


def test_a_bad_flag_is_named_as_it_was_typed(tmp_path):
    with pytest.raises(SettingsError, match=r"db-path \(from --db\) is empty"):
        load_settings({"db_path": " "}, environ={}, config_path=tmp_path / "none.toml")


def test_the_committed_configuration_docs_are_the_generated_ones():
    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed == render(), "run: python -m metrika_tui.cli.config_doc > docs/configuration.md"
    assert all(f"`{s.key}`" in committed for s in SETTINGS)
    assert all(f"`{binding_id}`" in committed for binding_id in REMAPPABLE)


def test_our_key_names_are_textuals():
    from textual.keys import _normalize_key_list

    for keys in ("?", "/", "@", "-", "+", "_", "\\", "a", "F", "f5", "ctrl+p", "question_mark", "f5, x", "é", "\t"):
        assert ",".join(key_names(keys)) == _normalize_key_list(keys), keys


def test_help_never_lists_a_key_twice():
    swapped = {"force-sync": "d", "toggle-active": "f"}
    for keymap in ({}, {"force-sync": "x"}, swapped):
        check_keymap(keymap, Path("config.toml"))
        keys = [key for key, _, _ in help_rows(keymap, read_only=False)]
        assert len(keys) == len(set(keys)), keys
    assert {a.id for a in ACTIONS} <= set(REMAPPABLE)


def test_the_keymap_check_loads_no_textual():
    code = "import sys, metrika_tui.tui.keymap; sys.exit('textual' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
