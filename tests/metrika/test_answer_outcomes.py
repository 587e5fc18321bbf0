"""The client tells how each request it sent ended (the metrics' requests by outcome and their
latency): every kind of answer to its outcome, retries each counted, nothing told of a request
never sent."""

from __future__ import annotations

import httpx
import metrika_envelopes as E
import pytest
import respx

from metrika_tui.metrika import MetrikaClient, MetrikaError, RetryPolicy
from metrika_tui.tokens import Token

BASE = "https://metrika.test"
FAST_RETRY = RetryPolicy(attempts=3, initial_wait=0.001, max_wait=0.005, total=2.0)
COUNTERS = {"rows": 0, "counters": []}


@pytest.fixture
async def heard():
    told: list[tuple[str, float]] = []
    async with MetrikaClient(BASE, retry=FAST_RETRY, max_rps=1000) as client:
        client.add_answer_listener(lambda outcome, seconds: told.append((outcome, seconds)))
        yield client, told


@pytest.mark.parametrize(
    ("answers", "outcomes"),
    [
        ([httpx.Response(200, json=COUNTERS)], ["ok"]),
        ([httpx.Response(503, content=E.BACKEND_ERROR), httpx.Response(200, json=COUNTERS)], ["retry", "ok"]),
        (
            [httpx.Response(500, content=b"<html>oops</html>"), httpx.Response(200, content=b"{trunc")] * 2,
            ["retry", "retry", "retry"],
        ),
        ([httpx.Response(429, content=E.QUOTA_PARALLEL), httpx.Response(200, json=COUNTERS)], ["quota", "ok"]),
        ([httpx.Response(429, content=E.QUOTA_BY_UID)], ["quota"]),
        ([httpx.Response(403, content=E.INVALID_TOKEN)], ["error"]),
        ([httpx.Response(400, content=E.INVALID_PARAMETER)], ["error"]),
        (
            [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.Response(200, json=COUNTERS)],
            ["retry", "retry", "ok"],
        ),
    ],
)
async def test_each_answer_is_told_with_its_outcome_and_latency(heard, answers, outcomes):
    client, told = heard
    with respx.mock(base_url=BASE) as api:
        api.get("/management/v1/counters").mock(side_effect=answers)
        try:
            await client.list_counters(Token("y0_" + "s" * 30))
        except MetrikaError:
            pass
    assert [outcome for outcome, _ in told] == outcomes
    assert all(0 <= seconds < 5 for _, seconds in told)
