"""A short code in big letters, readable from across the room (or on a phone held to a screen).

pyfiglet's "small" font: four lines, about four columns a character, so an eight-character
Yandex code fits an 80-column terminal with room to spare.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=8)
def big_text(text: str) -> str:
    """`text` drawn in FIGlet's small font; trailing blank lines and spaces trimmed."""
    import pyfiglet

    drawn = pyfiglet.figlet_format(text, font="small", width=200)
    lines = [line.rstrip() for line in drawn.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)
