"""Real HTTP on loopback: the thread and the asyncio ways, dropped connections, control routes."""

from __future__ import annotations

import logging

import httpx
import pytest

from metrika_tui.simulator import FaultConfig, QuotaConfig, Simulator, SimulatorConfig, World

from .helpers import ALPHA, auth


def test_serve_in_thread_answers_over_loopback():
    sim = Simulator(World.demo())
    with sim.serve_in_thread(host="127.0.0.1", port=0) as base_url:
        assert base_url.startswith("http://127.0.0.1:") and not base_url.endswith(":0")
        with httpx.Client(base_url=base_url) as http:
            body = http.get("/management/v1/counters", headers=auth(ALPHA)).json()
            assert body["rows"] == len(sim.world.counters_of(ALPHA))
            assert http.get("/simulator/stats").json()["ok"] == 1
    with pytest.raises(httpx.ConnectError):  # stopped on leaving the block
        httpx.get(f"{base_url}/simulator/stats", timeout=1)


async def test_serve_as_a_task_with_a_real_client_address():
    sim = Simulator(World.demo(), SimulatorConfig(quotas=QuotaConfig(per_ip_per_second=2)))
    async with sim.serve(port=0) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        statuses = [(await http.get("/management/v1/counters", headers=auth(ALPHA))).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # the per-address quota keys on the socket's peer
    assert sim.stats.quota_rejections == {"quota_requests_by_ip": 1}


async def test_a_dropped_connection_is_a_connection_error_not_a_500(caplog):
    sim = Simulator(World.demo(), SimulatorConfig(faults=FaultConfig(drop_connection=1.0)))
    with caplog.at_level(logging.WARNING):
        async with sim.serve() as base_url, httpx.AsyncClient(base_url=base_url) as http:
            for _ in range(3):
                with pytest.raises(httpx.RemoteProtocolError):
                    await http.get("/management/v1/counters", headers=auth(ALPHA))
            sim.set_faults(FaultConfig())
            assert (await http.get("/management/v1/counters", headers=auth(ALPHA))).status_code == 200
    assert sim.stats.faults["drop_connection"] == 3 and sim.stats.by_status.get(500) is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # uvicorn saw nothing wrong
    assert sim.stats.in_flight == 0


async def test_a_dropped_connection_in_process_is_the_same_error():
    sim = Simulator(World.demo(), SimulatorConfig(faults=FaultConfig(drop_connection=1.0)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url="http://t") as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get("/management/v1/counters", headers=auth(ALPHA))


def test_control_over_http():
    sim = Simulator(World.demo())
    with sim.serve_in_thread() as base_url, httpx.Client(base_url=base_url) as http:
        assert http.post("/simulator/revoke", json={"token": ALPHA}).status_code == 200
        r = http.get("/management/v1/counters", headers=auth(ALPHA))
        assert r.status_code == 403 and r.json()["errors"][0]["error_type"] == "invalid_token"
        assert http.post("/simulator/faults", json={"timeout": 1.0}).status_code == 200
        assert http.post("/simulator/restore", json={"token": ALPHA}).status_code == 200
        assert http.get("/management/v1/counters", headers=auth(ALPHA)).status_code == 504
        assert http.get("/simulator/stats").json()["errors"] == {"invalid_token": 1, "timeout": 1}


def test_a_port_in_use_fails_loudly():
    sim = Simulator(World.demo())
    with sim.serve_in_thread() as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        with pytest.raises((RuntimeError, OSError, SystemExit)):
            with Simulator(World.demo()).serve_in_thread(port=port):
                pass
