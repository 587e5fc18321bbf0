"""What SQLite and PostgreSQL spell differently, and only that: the store's SQL is one text
(written with `?` and `:name` placeholders, as sqlite3 takes them) with these fragments put in.

Where both engines take the same words (`ON CONFLICT DO NOTHING`, `RETURNING`, `CASE`) the
store uses them and needs nothing here. Timestamps are epoch seconds (REAL / DOUBLE PRECISION)
and flags whole numbers on both, so comparisons such as `revoked = 0` read the same.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Dialect:
    """The fragments of one engine's SQL; `SQLITE` and `POSTGRES` are the two there are."""

    name: str
    #: null-safe equality: `a IS b` (SQLite) or `a IS NOT DISTINCT FROM b`
    same_as: str
    #: the larger / smaller of two values: SQLite's scalar max()/min(), PostgreSQL's GREATEST/LEAST
    greatest: str
    least: str
    #: the rows of a JSON array of ids (a parameter), as one column named `value`
    ids_template: str
    #: (id, owner) pairs of a JSON array of [id, owner] arrays, as columns `id`, `owner`
    pairs_template: str
    #: queued work is announced to other processes (LISTEN/NOTIFY): the statement, if any
    notify_work: str | None = None
    #: taken by each plan for the rest of its transaction, so two processes never plan at once
    #: (SQLite's write lock does that already)
    lock_planning: str | None = None

    def ids(self, param: str) -> str:
        """`(SELECT value FROM ...)` over the JSON array of ids in `param` (`:ids` or `?`)."""
        return self.ids_template.format(param=param)

    def pairs(self, param: str) -> str:
        return self.pairs_template.format(param=param)

    def max(self, a: str, b: str) -> str:
        return f"{self.greatest}({a}, {b})"

    def min(self, a: str, b: str) -> str:
        return f"{self.least}({a}, {b})"

    @property
    def is_postgres(self) -> bool:
        return self.name == "postgresql"


SQLITE = Dialect(
    name="sqlite",
    same_as="IS",
    greatest="MAX",
    least="MIN",
    ids_template="(SELECT value FROM json_each({param}))",
    pairs_template=(
        "(SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS owner FROM json_each({param}))"
    ),
)

#: the channel workers LISTEN on for newly queued jobs
WORK_CHANNEL = "metrika_tui_jobs"
#: the key of the advisory lock every plan takes (any number both sides agree on)
PLANNING_LOCK = 0x6D74_7569  # 'mtui'

POSTGRES = Dialect(
    name="postgresql",
    same_as="IS NOT DISTINCT FROM",
    greatest="GREATEST",
    least="LEAST",
    ids_template="(SELECT CAST(value AS BIGINT) AS value FROM json_array_elements_text(CAST({param} AS json)) AS value)",
    pairs_template=(
        "(SELECT CAST(p->>0 AS BIGINT) AS id, p->>1 AS owner FROM json_array_elements(CAST({param} AS json)) AS p)"
    ),
    notify_work=f"SELECT pg_notify('{WORK_CHANNEL}', '')",
    lock_planning=f"SELECT pg_advisory_xact_lock({PLANNING_LOCK})",
)

#: a placeholder outside quotes: `?`, or `:name` (not `::type`, PostgreSQL's cast); a literal `%`
_TOKENS = re.compile(r"'(?:[^']|'')*'|::|\?|(?<![:\w]):([A-Za-z_]\w*)|%")


@functools.lru_cache(maxsize=512)
def to_pyformat(sql: str) -> str:
    """SQLite placeholders as psycopg's: `?` -> `%s`, `:name` -> `%(name)s`, `%` -> `%%`
    (quoted text and `::` casts left alone). The store's statements are few: each is turned
    once and remembered."""

    def turn(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        if match.group(1) is not None:
            return f"%({match.group(1)})s"
        return token.replace("%", "%%") if token.startswith("'") else token

    return _TOKENS.sub(turn, sql)
