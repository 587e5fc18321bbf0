"""The sanitiser for outside text: every control made visible, tables cut by terminal cells, JSON exact."""

from __future__ import annotations

import json

import pytest

from metrika_tui.text import cells, dumps, fit, visible

EVERY_CONTROL = "".join(map(chr, range(0x20))) + "\x7f" + "".join(map(chr, range(0x80, 0xA0)))
TRICKS = "\u2028\u2029\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def is_clean(text: str) -> bool:
    """The sanitiser would leave `text` as it is."""
    return visible(text) == text


def test_no_control_survives_and_each_has_a_visible_form():
    shown = visible(EVERY_CONTROL + TRICKS)
    assert is_clean(shown)
    assert all(ord(ch) >= 0x20 and not 0x7F <= ord(ch) <= 0x9F for ch in shown)
    assert visible("\x1b[2J\x07\r\n\t") == "␛[2J␇␍␊␉"
    assert visible("\x7f") == "␡"
    assert visible("\x9b31m") == "\\x9b31m"
    assert visible("abc\u202edef") == "abc\\u202edef"


def test_ordinary_text_is_left_alone():
    for text in ("Магазин [old] v2", "日本語のサイト", "café", "a ✓ b", ""):
        assert visible(text) == text and is_clean(text)
    assert visible(42) == "42"


def test_visible_twice_is_visible_once():
    once = visible(EVERY_CONTROL)
    assert visible(once) == once


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        ("short", 8, "short   "),
        ("exactly8", 8, "exactly8"),
        ("much too long", 8, "much to…"),
        ("\x1b[31mred", 6, "␛[31m…"),
        ("日本語のサイト", 7, "日本語…"),  # two cells a character
    ],
)
def test_fit_cuts_to_terminal_cells_with_an_ellipsis(text, width, expected):
    assert fit(text, width) == expected
    assert cells(fit(text, width)) == width


def test_dumps_is_exact_json_that_prints_safely():
    value = {"name": EVERY_CONTROL + TRICKS + "Магазин", "n": 1}
    encoded = dumps(value, indent=2)
    assert json.loads(encoded) == value
    assert is_clean(encoded.replace("\n", " "))
    assert "Магазин" in encoded  # readable, not \\u-escaped
