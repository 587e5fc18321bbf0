"""An OAuth token that cannot leak by accident.

`str()`, `repr()` and f-strings show only a masked form; the real value comes out only
through `reveal()`, which the HTTP client calls when it builds the Authorization header
and the store calls when it writes the token to the database.
"""

from __future__ import annotations

from dataclasses import dataclass


def mask(value: str) -> str:
    """`y0_AgAAAA…4f2c`-style: enough to tell tokens apart, never enough to use one."""
    if len(value) <= 8:
        return "…" * min(len(value), 3) or "(empty)"
    return f"{value[:4]}…{value[-4:]}"


class Token:
    """A secret OAuth token. Compare and hash by value; print masked."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        value = value.strip()
        if not value:
            raise ValueError("the token is empty")
        if any(ch.isspace() for ch in value):
            raise ValueError("the token contains white space")
        if not (value.isascii() and value.isprintable()):
            # an OAuth token is printable ASCII; anything else cannot go into an HTTP header.
            # Say where, never what: the rest of it may be the real secret
            where = next(n for n, ch in enumerate(value, 1) if not (ch.isascii() and ch.isprintable()))
            raise ValueError(
                f"the token must be printable ASCII (letters, digits, - . _ ~ + / =); "
                f"character {where} of {len(value)} is not"
            )
        self._value = value

    def reveal(self) -> str:
        return self._value

    @property
    def masked(self) -> str:
        return mask(self._value)

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"Token({self.masked!r})"

    def __format__(self, spec: str) -> str:
        return format(self.masked, spec)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Token) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Token", self._value))

    def __reduce__(self):  # pickling would be a way out for the secret
        raise TypeError("a Token cannot be pickled")


@dataclass(frozen=True, slots=True, repr=False)
class OAuthApp:
    """The registered OAuth app the device login and refreshes speak for: its secret is a Token too."""

    client_id: str
    client_secret: Token

    def __repr__(self) -> str:
        return f"OAuthApp({self.client_id!r}, secret {self.client_secret.masked})"
