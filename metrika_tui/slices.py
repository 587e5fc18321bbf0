"""Long loops of Python that let the event loop through now and then.

A console shares its event loop with the engine: turning a hundred thousand database rows
into objects is a long stretch of Python, and keys pressed meanwhile would wait for all of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: items converted between two looks at the event loop (tens of milliseconds of Python)
SLICE = 5_000


async def map_in_slices(convert: Callable[[T], R], items: Sequence[T], size: int = SLICE) -> list[R]:
    """`[convert(x) for x in items]`, yielding to the event loop after every `size` items."""
    out: list[R] = []
    for start in range(0, len(items), size):
        if start:
            await asyncio.sleep(0)
        out.extend(map(convert, items[start : start + size]))
    return out
