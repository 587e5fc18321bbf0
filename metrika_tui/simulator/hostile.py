"""Hostile mode: answers written by someone who means harm, or by a broken API.

Each trick is switched on for some counters (or all): names that are terminal escape
sequences or look like markup, errors that forge log lines, paging that never ends, bodies
that trickle in a byte at a time or run to tens of megabytes, rows outside the asked days,
twice, negative, NaN, infinite or absurd, sampled figures, and a time zone nobody knows.
The world's truth is untouched: a test compares what was stored with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metrika_tui.simulator.errors import ApiError

#: names a counter owner can type, and what they do to a careless terminal or console
HOSTILE_NAMES = (
    "\x1b[2J\x1b[31mRED",  # wipes the screen, paints red
    "osc52\x1b]52;c;ZXZpbA==\x07end",  # writes "evil" into the clipboard
    "Магазин [old] v2",  # Rich markup would eat "[old]"
    "line\nbreak\rforged",  # splits a table row, rewrites a line
    "unbalanced [/] close",  # Rich markup would raise MarkupError
    "csi\x9b31m\u202eevil",  # a C1 CSI and a right-to-left override
)
HOSTILE_LOGIN = "evil\x1b[31mlogin\x07"
HOSTILE_SITE = "x\x1b[8mhidden.example"
#: an API error message that closes markup, writes the clipboard and forges a log line
HOSTILE_ERROR = "unbalanced [/] close \x1b]52;c;ZXZpbA==\x07\r\n2026-01-01 00:00:00 INFO     done     forged"
BOGUS_ZONE = "Mars/Olympus"
#: what `endless_paging` claims: past any window, so the first page tells
ENDLESS_ROWS = 10**9
#: what `endless_counters` claims: exactly the client's cap, so only the repeated page tells
ENDLESS_COUNTERS = 1_000_000

#: the tricks; each maps to the counters it touches (None: every counter)
TRICKS = frozenset(
    {
        "names",  # counter names, sites and owner logins hostile (counters list, one counter)
        "bogus_zone",  # time_zone_name an unknown zone (the offset stays right)
        "errors",  # reports answer 400 with HOSTILE_ERROR
        "endless_paging",  # reports claim ENDLESS_ROWS and serve the first page for every offset
        "endless_counters",  # the counters list claims ENDLESS_COUNTERS and repeats its first page
        "trickle",  # report bodies sent a byte every `trickle_seconds`
        "huge",  # report answers padded to `huge_bytes`
        "rows_outside",  # a row for 1999-01-01 and one for 2099-12-31
        "rows_twice",  # the first day again, with 0 visits
        "rows_negative",  # negative visits
        "rows_nan",
        "rows_infinite",
        "rows_absurd",  # NaN, Infinity, 1e30 visits
        "sampled",  # sampled: true, sample_share 0.1
    }
)


@dataclass(frozen=True, slots=True)
class HostileConfig:
    """Which tricks are on, for which counters (None: all of them)."""

    tricks: dict[str, frozenset[int] | None] = field(default_factory=dict)
    trickle_seconds: float = 2.0
    huge_bytes: int = 50 * 1024 * 1024

    def __post_init__(self) -> None:
        unknown = sorted(set(self.tricks) - TRICKS)
        if unknown:
            raise ValueError(f"unknown hostile tricks: {', '.join(unknown)} (known: {', '.join(sorted(TRICKS))})")
        if not self.trickle_seconds >= 0 or not self.huge_bytes >= 0:
            raise ValueError("trickle_seconds and huge_bytes cannot be negative")

    @classmethod
    def everywhere(cls, *tricks: str, **options) -> HostileConfig:
        return cls({trick: None for trick in tricks}, **options)

    @classmethod
    def from_dict(cls, data: dict) -> HostileConfig:
        """`{"tricks": {"names": null, "errors": [101, 102]}, "trickle_seconds": 2}`"""
        tricks = {
            name: None if ids is None else frozenset(int(i) for i in ids)
            for name, ids in dict(data.get("tricks") or {}).items()
        }
        options: dict[str, Any] = {
            k: float(v) if k == "trickle_seconds" else int(v) for k, v in data.items() if k != "tricks"
        }
        return cls(tricks, **options)

    def on(self, trick: str, counter_ids) -> bool:
        """Is `trick` on for any of these counters?"""
        if trick not in self.tricks:
            return False
        targets = self.tricks[trick]
        return targets is None or any(cid in targets for cid in counter_ids)


class Hostility:
    """Applies a HostileConfig to the gate's answers."""

    def __init__(self, config: HostileConfig | None = None) -> None:
        self.config = config or HostileConfig()

    def params(self, endpoint: str, params: dict, ids) -> dict:
        """The query as the answer is computed: an endless report serves its first page always."""
        if endpoint in ("data", "bytime") and self.config.on("endless_paging", ids):
            return {**params, "offset": "1"}
        if endpoint == "counters" and "endless_counters" in self.config.tricks:
            return {**params, "offset": "1"}
        return params

    def refuse(self, endpoint: str, ids) -> None:
        if endpoint in ("data", "bytime") and self.config.on("errors", ids):
            raise ApiError(400, "invalid_parameter", HOSTILE_ERROR)

    def rewrite(self, endpoint: str, answer: dict, ids) -> dict:
        """The answer as the hostile API sends it."""
        if endpoint == "counters":
            answer["counters"] = [self._counter(c) for c in answer["counters"]]
            if "endless_counters" in self.config.tricks:
                answer["rows"] = ENDLESS_COUNTERS
        elif endpoint == "counter":
            answer["counter"] = self._counter(answer["counter"])
        elif endpoint == "data":
            self._report(answer, ids)
        return answer

    def identity(self, info: dict) -> dict:
        """Yandex ID's login.yandex.ru/info answer: with `names` on, a hostile login."""
        if "names" in self.config.tricks:
            return {**info, "login": HOSTILE_LOGIN, "display_name": HOSTILE_LOGIN}
        return info

    def trickle(self, endpoint: str, ids) -> float:
        """Seconds between the bytes of this answer (0: sent at once)."""
        on = endpoint in ("data", "bytime") and self.config.on("trickle", ids)
        return self.config.trickle_seconds if on else 0.0

    def _counter(self, item: dict) -> dict:
        cid = item["id"]
        if self.config.on("names", (cid,)):
            item = {
                **item,
                "name": HOSTILE_NAMES[cid % len(HOSTILE_NAMES)],
                "site": HOSTILE_SITE,
                "owner_login": HOSTILE_LOGIN,
            }
        if self.config.on("bogus_zone", (cid,)):
            item = {**item, "time_zone_name": BOGUS_ZONE}
        return item

    def _report(self, answer: dict, ids) -> None:
        on = lambda trick: self.config.on(trick, ids)  # noqa: E731
        data = answer["data"]
        if on("endless_paging"):
            answer["total_rows"] = ENDLESS_ROWS
        if data and on("rows_outside"):
            data.append(_row(data[0], "1999-01-01"))
            data.append(_row(data[0], "2099-12-31"))
        if data and on("rows_twice"):
            data.append(_row(data[0], data[0]["dimensions"][0]["name"], visits=0.0))
        for trick, visits in (
            ("rows_negative", -1381.0),
            ("rows_nan", float("nan")),
            ("rows_infinite", float("inf")),
            ("rows_absurd", 1e30),
        ):
            if data and on(trick):
                data[-1] = _row(data[-1], data[-1]["dimensions"][0]["name"], visits=visits)
        if on("sampled"):
            answer["sampled"], answer["sample_share"] = True, 0.1
        if on("huge"):
            answer["padding"] = "x" * self.config.huge_bytes


def _row(like: dict, day: str, visits: float | None = None) -> dict:
    metrics = list(like["metrics"])
    if visits is not None:
        metrics[0] = visits
    return {"dimensions": [{"name": day}], "metrics": metrics}
