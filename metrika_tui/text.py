"""The one sanitiser for text that comes from outside: counter names, sites, logins, the API's
error messages, anything read back from the database or the config file.

Such text is written by strangers. Before a terminal or a log sees it, every character that
a terminal or a log reader would act on is made visible instead: C0 controls (ESC, BEL, CR,
LF, TAB…) become their Unicode control pictures (`\\x1b` → `␛`, `\\n` → `␊`), DEL becomes `␡`,
and C1 controls, line/paragraph separators and bidirectional overrides (which reorder what
is shown) become `\\x9b` / `\\u202e` escapes. So an escape sequence cannot clear a screen or
write a clipboard, a newline cannot split a table row and a CR cannot forge a log line.

`visible` is for text, `fit` cuts it to a table column, and `dumps` is `json.dumps` with
the characters JSON leaves raw (DEL, C1, U+2028/9) escaped too, so JSON output stays exact.
Leaf module: no imports from the rest of metrika_tui.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

#: code points that are not text: (start, stop) ranges, stop included
_C0 = (0x00, 0x1F)
_DEL = 0x7F
_C1 = (0x80, 0x9F)
#: line and paragraph separators, and the bidirectional marks, embeddings, overrides and isolates
_FORMAT = (0x2028, 0x2029, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))


def _visible_table() -> dict[int, str]:
    table = {code: chr(0x2400 + code) for code in range(_C0[0], _C0[1] + 1)}  # ␀ … ␟
    table[_DEL] = "\u2421"  # ␡
    table.update({code: f"\\x{code:02x}" for code in range(_C1[0], _C1[1] + 1)})
    table.update({code: f"\\u{code:04x}" for code in _FORMAT})
    return table


_VISIBLE = _visible_table()
_UNSAFE = re.compile("[" + "".join(re.escape(chr(code)) for code in _VISIBLE) + "]")
#: what `dumps` escapes beyond what the JSON encoder does (it escapes C0 itself)
_JSON_ESCAPES = {code: f"\\u{code:04x}" for code in _VISIBLE if code > _C0[1]}
_JSON_UNSAFE = re.compile("[" + "".join(re.escape(chr(code)) for code in _JSON_ESCAPES) + "]")
ELLIPSIS = "…"


def visible(text: object) -> str:
    """`text` with every control, separator and bidi override made visible (see the module)."""
    text = text if isinstance(text, str) else str(text)
    return text.translate(_VISIBLE) if _UNSAFE.search(text) else text


def cells(text: str) -> int:
    """How many terminal columns `text` takes: wide (CJK) characters two, combining marks none."""
    if text.isascii():
        return len(text)
    return sum(_char_cells(ch) for ch in text)


def _char_cells(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def fit(text: object, width: int, *, pad: bool = True) -> str:
    """`visible(text)` cut to `width` terminal columns with an ellipsis, padded to it if `pad`."""
    shown = visible(text)
    used = cells(shown)
    if used > width:
        kept, used = [], 0
        for ch in shown:
            size = _char_cells(ch)
            if used + size > width - 1:
                break
            kept.append(ch)
            used += size
        shown = "".join(kept) + ELLIPSIS
        used += 1
    return shown + " " * (width - used) if pad else shown


def dumps(value: Any, **options: Any) -> str:
    """`json.dumps` (UTF-8 kept readable), with DEL, C1, U+2028/9 and the bidi overrides
    escaped as `\\uXXXX` too: still exact JSON, and safe to print to a terminal or a log."""
    options.setdefault("ensure_ascii", False)
    encoded = json.dumps(value, **options)
    return _JSON_UNSAFE.sub(lambda m: _JSON_ESCAPES[ord(m.group())], encoded)
