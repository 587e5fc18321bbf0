"""Seeded trouble: how long an answer waits, and which answers go wrong and how.

One `random.Random(seed)` drives both, so a run with the same seed and the same order of
requests meets the same faults: a failing benchmark can be replayed.
"""

from __future__ import annotations

import math
import random

from metrika_tui.simulator.config import FaultConfig, LatencyConfig

#: faults that only make sense for the Reporting API
REPORT_ONLY = frozenset({"too_complicated"})


class Trouble:
    def __init__(self, latency: LatencyConfig, faults: FaultConfig, seed: int) -> None:
        self._random = random.Random(seed)
        self.latency = latency
        self.set_faults(faults)

    def set_faults(self, faults: FaultConfig) -> None:
        self.faults = faults
        self._table = [(kind, rate) for kind, rate in faults.rates().items() if rate > 0]

    def pick_fault(self, *, report: bool) -> str | None:
        """The kind of trouble for this request, or None for a normal answer."""
        if not self._table:
            return None
        draw = self._random.random()
        for kind, rate in self._table:
            if draw < rate:
                return None if kind in REPORT_ONLY and not report else kind
            draw -= rate
        return None

    def delay_seconds(self) -> float:
        cfg = self.latency
        if cfg.median_ms <= 0:
            return 0.0
        if cfg.kind == "fixed":
            return cfg.median_ms / 1000
        ms = cfg.median_ms * math.exp(cfg.sigma * self._random.gauss(0.0, 1.0))
        return min(ms, cfg.max_ms) / 1000
