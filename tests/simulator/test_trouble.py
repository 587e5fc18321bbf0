"""Faults at their configured rates (seeded, so reproducible), latency, revocation, control routes."""

from __future__ import annotations

import statistics
from collections import Counter

import httpx
import pytest

from metrika_tui.simulator import FaultConfig, LatencyConfig, QuotaConfig
from metrika_tui.simulator.trouble import Trouble

from .helpers import ALPHA, BETA, auth, in_process, make_sim

MIXED = FaultConfig(backend_error=0.10, timeout=0.05, html_500=0.05, malformed_json=0.05, drop_connection=0.05)


async def _outcomes(sim, n: int) -> list[str]:
    """What each of n requests met: a status code, 'malformed' or 'dropped'."""
    out = []
    async with in_process(sim) as http:
        for _ in range(n):
            try:
                r = await http.get("/management/v1/counters", headers=auth(ALPHA))
            except httpx.RemoteProtocolError:
                out.append("dropped")
                continue
            if r.status_code == 200:
                try:
                    r.json()
                    out.append("200")
                except ValueError:
                    out.append("malformed")
            else:
                out.append(str(r.status_code))
    return out


def _sim(world, clock, faults: FaultConfig, seed: int = 1):
    return make_sim(world, clock, quotas=QuotaConfig.unlimited(), faults=faults, seed=seed)


async def test_fault_rates_roughly_as_configured(world, clock):
    sim = _sim(world, clock, MIXED)
    seen = Counter(await _outcomes(sim, 2000))
    expected = {"503": 0.10, "504": 0.05, "500": 0.05, "malformed": 0.05, "dropped": 0.05, "200": 0.70}
    for outcome, share in expected.items():
        assert seen[outcome] / 2000 == pytest.approx(share, abs=0.025), (outcome, seen)
    assert sum(sim.stats.faults.values()) == 2000 - seen["200"]
    assert sim.stats.faults["drop_connection"] == seen["dropped"]


async def test_faults_are_reproducible_with_a_seed(world, clock):
    first = await _outcomes(_sim(world, clock, MIXED, seed=5), 300)
    again = await _outcomes(_sim(world, clock, MIXED, seed=5), 300)
    other = await _outcomes(_sim(world, clock, MIXED, seed=6), 300)
    assert first == again and first != other


async def test_slow_answers_are_normal_answers_late(world, clock):
    sim = _sim(world, clock, FaultConfig(slow=1.0, slow_seconds=0.01))
    assert await _outcomes(sim, 3) == ["200"] * 3
    assert sim.stats.faults["slow"] == 3


def test_fault_config_is_validated():
    with pytest.raises(ValueError):
        FaultConfig(backend_error=0.7, timeout=0.5)
    with pytest.raises(ValueError):
        FaultConfig(timeout=-0.1)
    with pytest.raises(ValueError, match="unknown fault kinds: boom"):
        FaultConfig.from_dict({"boom": 0.1})
    assert sum(FaultConfig.uniform(0.14).rates().values()) == pytest.approx(0.14)


def test_latency_distributions():
    fixed = Trouble(LatencyConfig(kind="fixed", median_ms=40), FaultConfig(), seed=1)
    assert {fixed.delay_seconds() for _ in range(10)} == {0.04}
    tail = Trouble(LatencyConfig(kind="lognormal", median_ms=50, sigma=0.8, max_ms=400), FaultConfig(), seed=1)
    draws = [tail.delay_seconds() for _ in range(5000)]
    assert statistics.median(draws) == pytest.approx(0.05, rel=0.1)
    assert max(draws) == 0.4  # the long tail, capped
    assert statistics.mean(draws) > statistics.median(draws)
    assert Trouble(LatencyConfig(), FaultConfig(), seed=1).delay_seconds() == 0.0


async def test_revoking_a_token_at_runtime(client, sim):
    assert (await client.get("/management/v1/counters", headers=auth(ALPHA))).status_code == 200
    sim.revoke(ALPHA)
    r = await client.get("/management/v1/counters", headers=auth(ALPHA))
    assert r.status_code == 403 and r.json()["errors"][0]["error_type"] == "invalid_token"
    assert (await client.get("/management/v1/counters", headers=auth(BETA))).status_code == 200
    sim.restore(ALPHA)
    assert (await client.get("/management/v1/counters", headers=auth(ALPHA))).status_code == 200


async def test_control_routes_need_no_auth(client, sim):
    r = await client.post("/simulator/revoke", json={"token": BETA})
    assert r.status_code == 200 and BETA not in r.text and r.json() == {"revoked": "beta-marketing"}
    assert (await client.get("/management/v1/counters", headers=auth(BETA))).status_code == 403
    assert (await client.post("/simulator/restore", json={"token": BETA})).status_code == 200
    assert (await client.get("/management/v1/counters", headers=auth(BETA))).status_code == 200
    assert (await client.post("/simulator/revoke", json={"nope": 1})).status_code == 400

    r = await client.post("/simulator/faults", json={"backend_error": 1.0})
    assert r.status_code == 200 and r.json()["backend_error"] == 1.0 and sim.faults.backend_error == 1.0
    assert (await client.get("/management/v1/counters", headers=auth(ALPHA))).status_code == 503
    assert (await client.post("/simulator/faults", json={"boom": 0.5})).status_code == 400
    assert (await client.post("/simulator/faults", json={})).status_code == 200
    assert (await client.get("/management/v1/counters", headers=auth(ALPHA))).status_code == 200


async def test_stats_count_what_happened(client, sim, world):
    cid = world.counters_of(ALPHA)[0].id
    await client.get("/management/v1/counters", headers=auth(ALPHA))
    await client.get("/stat/v1/data", headers=auth(ALPHA), params={"ids": cid, "metrics": "ym:s:visits"})
    await client.get("/management/v1/counters")
    await client.get("/nowhere")
    snap = (await client.get("/simulator/stats")).json()
    assert snap == sim.stats.snapshot()
    assert snap["requests"] == 4 and snap["ok"] == 2
    assert snap["by_endpoint"] == {"counters": 2, "data": 1, "unknown": 1}
    assert snap["by_status"] == {"200": 2, "401": 1, "404": 1}
    assert snap["errors"] == {"unauthorized": 1, "not_found": 1}
    assert snap["tokens"] == {"alpha-digital-agency": {"admitted": 2, "ok": 2, "rejected": 0, "max_in_flight": 1}}
    assert ALPHA not in str(snap)
    await client.post("/simulator/reset-stats")
    assert sim.stats.requests == 0 and sim.stats.snapshot()["tokens"] == {}


def test_config_from_the_command_line():
    from metrika_tui.simulator import SimulatorConfig

    quiet = SimulatorConfig.from_cli()
    assert quiet.latency.median_ms == 0 and sum(quiet.faults.rates().values()) == 0
    busy = SimulatorConfig.from_cli(latency_ms=80, fault_rate=0.1)
    assert (busy.latency.kind, busy.latency.median_ms) == ("lognormal", 80)
    assert sum(busy.faults.rates().values()) == pytest.approx(0.1)
