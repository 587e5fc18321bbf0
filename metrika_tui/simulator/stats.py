"""What the simulator saw, for tests and benchmarks: counts, rejections, faults, peaks.

Readable live from Python (`sim.stats`) and as JSON at `GET /simulator/stats`. Tokens are
masked in the snapshot: the stats travel over HTTP and into benchmark output.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from metrika_tui.simulator.quotas import Violation

#: breaches kept one by one (all are counted in `breaches`): a test with a quota switched off
#: may make thousands
KEPT_VIOLATIONS = 10_000


def mask(token: str) -> str:
    """Enough of a token to tell it apart, never enough to use it."""
    return f"{token[:4]}…{token[-4:]}" if len(token) > 8 else "…"


@dataclass
class TokenStats:
    admitted: int = 0  # past every quota
    ok: int = 0
    rejected: int = 0  # 429s
    max_in_flight: int = 0


@dataclass
class SimStats:
    requests: int = 0  # every request to the API paths, control paths excluded
    ok: int = 0  # 2xx answers
    by_endpoint: Counter[str] = field(default_factory=Counter)
    by_address: Counter[str] = field(default_factory=Counter)  # requests by client address
    by_status: Counter[int] = field(default_factory=Counter)
    quota_rejections: Counter[str] = field(default_factory=Counter)  # 429s by error_type
    errors: Counter[str] = field(default_factory=Counter)  # every error answer by error_type
    faults: Counter[str] = field(default_factory=Counter)  # injected trouble by kind
    max_in_flight: int = 0  # the most requests of one token in flight at once, over all tokens
    in_flight: int = 0  # all tokens, now
    peak_rps: int = 0  # the most requests within any one second
    tokens: defaultdict[str, TokenStats] = field(default_factory=lambda: defaultdict(TokenStats))
    #: every request the real API would have refused (see `quotas`), in arrival order
    breaches: Counter[str] = field(default_factory=Counter)  # by rule
    _violations: list[Violation] = field(default_factory=list, repr=False)
    _last_second: deque[float] = field(default_factory=deque, repr=False)
    #: how a token is named in snapshots (the simulator names it by its account's login)
    label: Callable[[str], str] = field(default=mask, repr=False)

    def for_token(self, token: str) -> TokenStats:
        return self.tokens.get(token) or TokenStats()

    @property
    def rejected(self) -> int:
        return sum(self.quota_rejections.values())

    def violations(self) -> list[Violation]:
        """Every breach of the real API's limits (the first KEPT_VIOLATIONS): empty for a client
        that keeps to them, however many hosts it runs on."""
        return list(self._violations)

    def note_violation(self, violation: Violation) -> None:
        self.breaches[violation.rule.value] += 1
        if len(self._violations) < KEPT_VIOLATIONS:
            self._violations.append(violation)

    def note_arrival(self, endpoint: str, now: float, address: str = "unknown") -> None:
        self.requests += 1
        self.by_endpoint[endpoint] += 1
        self.by_address[address] += 1
        window = self._last_second
        window.append(now)
        while window[0] <= now - 1.0:
            window.popleft()
        if len(window) > self.peak_rps:
            self.peak_rps = len(window)

    def note_in_flight(self, token: str, count: int) -> None:
        per = self.tokens[token]
        per.admitted += 1
        if count > per.max_in_flight:
            per.max_in_flight = count
        if count > self.max_in_flight:
            self.max_in_flight = count

    def note_answer(self, status: int, error_type: str | None = None, token: str | None = None) -> None:
        self.by_status[status] += 1
        if 200 <= status < 300:
            self.ok += 1
            if token is not None:
                self.tokens[token].ok += 1
        if error_type is not None:
            self.errors[error_type] += 1
        if status == 429 and error_type is not None:
            self.quota_rejections[error_type] += 1
            if token is not None:
                self.tokens[token].rejected += 1

    def snapshot(self) -> dict[str, Any]:
        """Plain JSON-able figures; tokens named by `label`, never shown."""
        return {
            "requests": self.requests,
            "ok": self.ok,
            "rejected": self.rejected,
            "by_endpoint": dict(self.by_endpoint),
            "by_address": dict(self.by_address),
            "by_status": {str(k): v for k, v in self.by_status.items()},
            "quota_rejections": dict(self.quota_rejections),
            "errors": dict(self.errors),
            "faults": dict(self.faults),
            "faults_total": sum(self.faults.values()),
            "max_in_flight_per_token": self.max_in_flight,
            "in_flight": self.in_flight,
            "peak_requests_per_second": self.peak_rps,
            "breaches": dict(self.breaches),
            "violations": [v.to_dict() for v in self._violations[:100]],  # the first; `breaches` counts all
            "tokens": {
                self.label(t): {
                    "admitted": s.admitted,
                    "ok": s.ok,
                    "rejected": s.rejected,
                    "max_in_flight": s.max_in_flight,
                }
                for t, s in self.tokens.items()
            },
        }

    def reset(self) -> None:
        fresh = SimStats(label=self.label)
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))
