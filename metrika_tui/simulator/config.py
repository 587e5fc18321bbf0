"""How the simulator behaves: quotas, latency, faults. Defaults are the real API's quotas,
no latency and no faults (what tests want); `SimulatorConfig.demo()` adds some life."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from metrika_tui.clock import Clock, SystemClock
from metrika_tui.simulator.hostile import HostileConfig


@dataclass(frozen=True, slots=True)
class QuotaConfig:
    """The real API's limits. None switches one off."""

    per_ip_per_second: int | None = 30
    parallel_per_login: int | None = 3
    reports_per_window: int | None = 200  # /stat/v1/data* per token ...
    report_window_seconds: float = 300.0  # ... per this sliding window
    per_login_per_day: int | None = 5000  # resets 00:00 UTC
    per_counter_per_day: int | None = 5000

    @classmethod
    def unlimited(cls) -> QuotaConfig:
        return cls(None, None, None, 300.0, None, None)


@dataclass(frozen=True, slots=True)
class LatencyConfig:
    """Time before an answer: "fixed" waits `median_ms`; "lognormal" has a long tail (sigma)."""

    kind: str = "fixed"  # "fixed" | "lognormal"
    median_ms: float = 0.0
    sigma: float = 0.6
    max_ms: float = 10_000.0

    def __post_init__(self) -> None:
        if self.kind not in ("fixed", "lognormal"):
            raise ValueError(f"latency kind is 'fixed' or 'lognormal', not {self.kind!r}")
        if self.median_ms < 0 or self.sigma < 0 or self.max_ms < 0:
            raise ValueError("latency figures cannot be negative")


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Share (0..1) of admitted API requests that go wrong, per kind of trouble."""

    backend_error: float = 0.0  # 503 backend_error
    timeout: float = 0.0  # 504 timeout
    html_500: float = 0.0  # 500 with an HTML body
    malformed_json: float = 0.0  # 200 with a truncated body
    drop_connection: float = 0.0  # the connection closes without an answer
    slow: float = 0.0  # a normal answer after `slow_seconds`
    too_complicated: float = 0.0  # 400 "Query is too complicated" (reports only)
    slow_seconds: float = 3.0

    def __post_init__(self) -> None:
        rates = self.rates()
        if any(not 0.0 <= r <= 1.0 for r in rates.values()) or sum(rates.values()) > 1.0:
            raise ValueError("fault rates are shares in 0..1 and add up to at most 1")
        if self.slow_seconds < 0:
            raise ValueError("slow_seconds cannot be negative")

    def rates(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "slow_seconds"}

    @classmethod
    def uniform(cls, total: float, slow_seconds: float = 3.0) -> FaultConfig:
        """`total` spread evenly over every kind (what `--fault-rate` means)."""
        kinds = [f.name for f in fields(cls) if f.name != "slow_seconds"]
        return cls(**{k: total / len(kinds) for k in kinds}, slow_seconds=slow_seconds)

    @classmethod
    def from_dict(cls, data: dict) -> FaultConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault kinds: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**{k: float(v) for k, v in data.items()})

    def to_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: the app the simulated Yandex OAuth knows; `--demo` logs in with it
DEMO_CLIENT_ID = "metrika-tui-demo-app"
DEMO_CLIENT_SECRET = "demo-client-secret-0c4f9a7e21b3"


@dataclass(frozen=True, slots=True)
class OAuthConfig:
    """The simulated Yandex ID: the one app it knows, and the device login's figures.

    `auto_approve_after`: seconds after which a pending code is approved by itself (as
    `approve_as`, a login of the world; None: its first account). None waits for a control."""

    client_id: str = DEMO_CLIENT_ID
    client_secret: str = DEMO_CLIENT_SECRET
    interval: float = 5.0  # seconds between polls, as Yandex answers
    code_lifetime: float = 300.0  # Yandex: 300 s observed (its docs say 10 minutes)
    token_lifetime: float = 365 * 86400.0  # a Metrika token lives about a year
    verification_url: str = "https://ya.ru/device"
    auto_approve_after: float | None = None
    approve_as: str | None = None

    def __post_init__(self) -> None:
        if not self.interval > 0 or not self.code_lifetime > 0 or not self.token_lifetime > 0:
            raise ValueError("the OAuth interval and lifetimes must be above zero")


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    quotas: QuotaConfig = field(default_factory=QuotaConfig)
    latency: LatencyConfig = field(default_factory=LatencyConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    seed: int = 0  # drives latency and fault draws
    clock: Clock = field(default_factory=SystemClock)
    data_lag_seconds: int = 120
    hostile: HostileConfig = field(default_factory=HostileConfig)  # none of its tricks, by default
    oauth: OAuthConfig = field(default_factory=OAuthConfig)
    #: the limits every request is judged against, enforced or not (`SimStats.violations`)
    watch: QuotaConfig = field(default_factory=QuotaConfig)

    @classmethod
    def demo(cls) -> SimulatorConfig:
        """Real quotas, a believable latency, and a little trouble so retries show."""
        return cls(
            latency=LatencyConfig(kind="lognormal", median_ms=60.0, sigma=0.5, max_ms=2_000.0),
            faults=FaultConfig(backend_error=0.01, timeout=0.005, drop_connection=0.005, slow_seconds=1.5),
            seed=7,
            oauth=OAuthConfig(auto_approve_after=4.0, approve_as="Delta-Ads"),
        )

    @classmethod
    def from_cli(cls, *, latency_ms: float = 0.0, fault_rate: float = 0.0, seed: int = 0) -> SimulatorConfig:
        """`metrika-tui simulator --latency-ms N --fault-rate R`: a long-tailed latency around N ms,
        and R of the answers spoiled, spread evenly over every kind of fault."""
        latency = LatencyConfig(kind="lognormal", median_ms=latency_ms) if latency_ms > 0 else LatencyConfig()
        return cls(latency=latency, faults=FaultConfig.uniform(fault_rate), seed=seed)
