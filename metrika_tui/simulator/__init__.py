"""A stand-in for the Yandex Metrika API: a seeded world of accounts and counters, served
with the real answers, quotas and errors, plus latency and faults on demand.

Imports nothing of metrika_tui but the shared leaf modules (models, clock): the client cannot lean on it.
"""

from metrika_tui.simulator.config import FaultConfig, LatencyConfig, OAuthConfig, QuotaConfig, SimulatorConfig
from metrika_tui.simulator.demo_world import DEMO_TOKENS
from metrika_tui.simulator.hostile import HostileConfig
from metrika_tui.simulator.server import Simulator, run_forever
from metrika_tui.simulator.stats import SimStats
from metrika_tui.simulator.world import Account, World

__all__ = [
    "DEMO_TOKENS",
    "Account",
    "FaultConfig",
    "HostileConfig",
    "LatencyConfig",
    "OAuthConfig",
    "QuotaConfig",
    "SimStats",
    "Simulator",
    "SimulatorConfig",
    "World",
    "run_forever",
]
