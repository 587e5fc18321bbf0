"""Every error arrives in the real envelope, with the status and error_type the real API uses."""

from __future__ import annotations

import pytest

from metrika_tui.simulator import FaultConfig

from .helpers import ALPHA, BETA, auth, reference


def _assert_envelope(r, status: int, error_type: str, reference_file: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    ref = reference(f"errors/{reference_file}")
    assert set(ref) <= set(body) and body["code"] == status == ref["code"]
    (item,) = body["errors"]
    assert item["error_type"] == error_type == ref["errors"][0]["error_type"]
    assert isinstance(item["message"], str) and item["message"] == body["message"]
    return body


def _report(cid: int, **extra) -> dict:
    return {
        "ids": str(cid),
        "metrics": "ym:s:visits",
        "dimensions": "ym:s:date",
        "date1": "2026-01-01",
        "date2": "2026-01-31",
        **extra,
    }


async def test_no_authorization_header_is_401(client):
    r = await client.get("/management/v1/counters")
    _assert_envelope(r, 401, "unauthorized", "401_unauthorized.json")


async def test_bearer_instead_of_oauth_is_401(client):
    r = await client.get("/management/v1/counters", headers={"Authorization": f"Bearer {ALPHA}"})
    _assert_envelope(r, 401, "unauthorized", "401_unauthorized.json")


async def test_unknown_token_is_403_invalid_token(client):
    r = await client.get("/management/v1/counters", headers=auth("y0_not-a-token"))
    body = _assert_envelope(r, 403, "invalid_token", "403_invalid_token.json")
    assert body["message"] == "Invalid oauth_token"


async def test_someone_elses_counter_is_403_access_denied(client, world):
    foreign = world.counters_of(BETA)[0].id
    r = await client.get("/stat/v1/data", headers=auth(ALPHA), params=_report(foreign))
    _assert_envelope(r, 403, "access_denied", "403_access_denied.json")
    r = await client.get(f"/management/v1/counter/{foreign}", headers=auth(ALPHA))
    _assert_envelope(r, 403, "access_denied", "403_access_denied.json")
    r = await client.get("/management/v1/counter/1", headers=auth(ALPHA))
    _assert_envelope(r, 403, "access_denied", "403_access_denied.json")


async def test_unknown_path_is_404(client):
    r = await client.get("/management/v1/nothing-here", headers=auth(ALPHA))
    _assert_envelope(r, 404, "not_found", "404_not_found.json")


@pytest.mark.parametrize(
    ("extra", "location", "words"),
    [
        ({"limit": "0"}, "limit", "1..100000"),
        ({"limit": "100001"}, "limit", "1..100000"),
        ({"offset": "0"}, "offset", "at least 1"),
        ({"limit": "many"}, "limit", "whole number"),
        ({"metrics": "ym:s:nonsense"}, "metrics", "ym:s:nonsense"),
        ({"dimensions": "ym:s:browser"}, "dimensions", "ym:s:browser"),
        ({"date1": "01.02.2026"}, "date1", "YYYY-MM-DD"),
        ({"date1": "2026-02-10", "date2": "2026-02-01"}, "date1", "after"),
        ({"sort": "ym:s:users"}, "sort", "ym:s:users"),
        ({"ids": "abc"}, "ids", "abc"),
    ],
)
async def test_bad_parameters_are_400_with_a_useful_message(client, world, extra, location, words):
    cid = world.counters_of(ALPHA)[0].id
    r = await client.get("/stat/v1/data", headers=auth(ALPHA), params=_report(cid, **extra))
    body = _assert_envelope(r, 400, "invalid_parameter", "400_invalid_parameter.json")
    assert body["errors"][0]["location"] == location and words in body["message"]


async def test_missing_metrics_is_400(client, world):
    cid = world.counters_of(ALPHA)[0].id
    r = await client.get("/stat/v1/data", headers=auth(ALPHA), params={"ids": cid})
    assert r.status_code == 400 and r.json()["errors"][0]["error_type"] == "missing_parameter"


async def test_query_too_complicated(client, sim, world):
    sim.set_faults(FaultConfig(too_complicated=1.0))
    cid = world.counters_of(ALPHA)[0].id
    r = await client.get("/stat/v1/data", headers=auth(ALPHA), params=_report(cid))
    body = _assert_envelope(r, 400, "query_error", "400_too_complicated.json")
    assert body["message"].startswith("Query is too complicated")
    # only reports are ever too complicated
    assert (await client.get("/management/v1/counters", headers=auth(ALPHA))).status_code == 200


@pytest.mark.parametrize(
    ("fault", "status", "error_type", "file"),
    [
        ("backend_error", 503, "backend_error", "503_backend_error.json"),
        ("timeout", 504, "timeout", "504_timeout.json"),
    ],
)
async def test_transient_errors(client, sim, fault, status, error_type, file):
    sim.set_faults(FaultConfig(**{fault: 1.0}))
    r = await client.get("/management/v1/counters", headers=auth(ALPHA))
    _assert_envelope(r, status, error_type, file)


async def test_html_500(client, sim):
    sim.set_faults(FaultConfig(html_500=1.0))
    r = await client.get("/management/v1/counters", headers=auth(ALPHA))
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    assert r.text.lstrip().startswith("<html>")


async def test_malformed_json_is_a_200_cut_short(client, sim):
    import json

    sim.set_faults(FaultConfig(malformed_json=1.0))
    r = await client.get("/management/v1/counters", headers=auth(ALPHA))
    assert r.status_code == 200 and r.text.startswith('{"rows":')
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)
