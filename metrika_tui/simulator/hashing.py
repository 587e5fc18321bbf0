"""Counter-based randomness: every figure is a pure function of (seed, ids, date).

A seeded `random.Random` would need to be replayed from the start to reach day N of counter K;
hashing the coordinates instead gives any day of any counter in O(1) and no stored state,
which is what lets a world of 100,000 counters cost nothing.
"""

from __future__ import annotations

_MASK = (1 << 64) - 1
_INV_2_53 = 1.0 / (1 << 53)


def _splitmix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def mix(*parts: int) -> int:
    """A well-spread 64-bit hash of a few integers (order matters)."""
    h = 0
    for part in parts:
        h = _splitmix(h ^ (part & _MASK))
    return h


def unit(*parts: int) -> float:
    """A uniform float in [0, 1) determined by the parts."""
    return (mix(*parts) >> 11) * _INV_2_53


def between(low: float, high: float, *parts: int) -> float:
    return low + (high - low) * unit(*parts)


def wobble(*parts: int) -> float:
    """A symmetric, bell-ish value in (-1, 1): the sum of two uniforms, centred."""
    h = mix(*parts)
    return ((h >> 11) * _INV_2_53) + (_splitmix(h) >> 11) * _INV_2_53 - 1.0


def splitmix(x: int) -> int:
    """The next well-spread 64-bit value after x (to draw more from one hash)."""
    return _splitmix(x)


def fields16(h: int) -> tuple[float, float, float, float]:
    """Four uniforms in [0, 1) from one 64-bit hash, 16 bits each: plenty for daily noise."""
    return ((h & 0xFFFF) / 65536.0, ((h >> 16) & 0xFFFF) / 65536.0, ((h >> 32) & 0xFFFF) / 65536.0, (h >> 48) / 65536.0)
