"""Yandex ID's answers, exact shapes (respx): each error to its kind, hostile answers refused,
and no secret in any error, repr or log line."""

from __future__ import annotations

import logging

import httpx
import pytest
import respx

from metrika_tui.metrika.errors import AuthError, TransientError
from metrika_tui.metrika.oauth import (
    AppRejected,
    DeviceCode,
    LoginPending,
    LoginRefused,
    OAuthError,
    RefreshRefused,
    YandexIdClient,
)
from metrika_tui.tokens import OAuthApp, Token

OAUTH, LOGIN = "https://oauth.test", "https://login.test"
SECRET, DEVICE, REFRESH, ACCESS = (
    "s3cr3t-client-secret-9f8e",
    "dev-code-5d4c3b2a1",
    "1:refresh-abcdef",
    "y0_access-0123456789",
)
APP = OAuthApp("app-id", Token(SECRET))
CODE = DeviceCode(Token(DEVICE), "h5nbcr6c", "https://ya.ru/device", 5.0, 300.0)


@pytest.fixture
async def client():
    c = YandexIdClient(OAUTH, LOGIN)
    yield c
    await c.aclose()


def error(code: str, status: int = 400, description: str = "words") -> httpx.Response:
    return httpx.Response(status, json={"error": code, "error_description": description})


@pytest.mark.parametrize(
    ("answer", "kind", "check"),
    [
        (error("authorization_pending"), LoginPending, lambda e: not e.slow_down),
        (error("slow_down"), LoginPending, lambda e: e.slow_down),
        (error("access_denied"), LoginRefused, lambda e: e.reason == "denied"),
        (error("expired_token"), LoginRefused, lambda e: e.reason == "expired"),
        (error("invalid_grant", description="Code has expired"), LoginRefused, lambda e: e.reason == "expired"),
        (error("bad_verification_code"), LoginRefused, lambda e: e.reason == "expired"),
        (error("invalid_client", 401, "Wrong client secret"), AppRejected, lambda e: "Wrong client secret" in str(e)),
        (error("unauthorized_client"), AppRejected, lambda e: True),
        (error("something_new"), OAuthError, lambda e: e.error_type == "something_new"),
        (httpx.Response(503, text="<html>busy</html>"), TransientError, lambda e: e.status == 503),
        (httpx.Response(400, text="<html>proxy</html>"), TransientError, lambda e: True),
        (httpx.Response(200, text="not json"), TransientError, lambda e: True),
    ],
)
@respx.mock
async def test_each_poll_answer_is_its_kind(client, answer, kind, check, caplog):
    caplog.set_level(logging.DEBUG)
    route = respx.post(f"{OAUTH}/token").mock(return_value=answer)
    with pytest.raises(kind) as raised:
        await client.poll_device_token(APP, CODE)
    assert check(raised.value)
    sent = route.calls.last.request.content.decode()
    assert "grant_type=device_code" in sent and f"code={DEVICE}" in sent and "client_id=app-id" in sent
    for secret in (SECRET, DEVICE):
        assert secret not in str(raised.value) and secret not in repr(raised.value) and secret not in caplog.text


@respx.mock
async def test_a_refresh_grant_and_its_refusal(client):
    respx.post(f"{OAUTH}/token").mock(
        side_effect=[
            httpx.Response(
                200,
                json={"access_token": ACCESS, "refresh_token": "1:new", "expires_in": 31536000, "token_type": "bearer"},
            ),
            error("invalid_grant", description="Invalid refresh token"),
        ]
    )
    grant = await client.refresh(APP, Token(REFRESH))
    assert (
        grant.access_token == Token(ACCESS) and grant.refresh_token == Token("1:new") and grant.expires_in == 31536000
    )
    assert ACCESS not in repr(grant) and "1:new" not in repr(grant)
    with pytest.raises(RefreshRefused):
        await client.refresh(APP, Token(REFRESH))


@pytest.mark.parametrize(
    "payload",
    [
        {"device_code": DEVICE, "user_code": "h5n\x1b[31m", "verification_url": "https://ya.ru/device"},
        {"device_code": DEVICE, "user_code": "h5nbcr6c", "verification_url": "javascript:alert(1)"},
        {"device_code": DEVICE, "user_code": "h5nbcr6c", "verification_url": "https://ya.ru/device", "interval": "5"},
        {"user_code": "h5nbcr6c", "verification_url": "https://ya.ru/device"},
        {"device_code": DEVICE, "user_code": "x" * 500, "verification_url": "https://ya.ru/device"},
    ],
)
@respx.mock
async def test_a_hostile_device_code_answer_is_refused(client, payload):
    respx.post(f"{OAUTH}/device/code").mock(return_value=httpx.Response(200, json=payload))
    with pytest.raises(TransientError) as raised:
        await client.request_device_code(APP, device_id="device-1", device_name="host")
    assert "\x1b" not in str(raised.value) and DEVICE not in str(raised.value)


@respx.mock
async def test_figures_are_bounded_and_the_form_is_what_yandex_documents(client):
    route = respx.post(f"{OAUTH}/device/code").mock(
        return_value=httpx.Response(
            200,
            json={
                "device_code": DEVICE,
                "user_code": "h5nbcr6c",
                "verification_url": "https://ya.ru/device",
                "interval": 0,
                "expires_in": 10**9,
            },
        )
    )
    code = await client.request_device_code(APP, device_id="device-1", device_name="n" * 300)
    assert code.interval == 1.0 and code.expires_in == 24 * 3600  # never a busy loop, never a day-long wait
    sent = route.calls.last.request.content.decode()
    assert "client_id=app-id" in sent and "scope=metrika%3Aread" in sent and f"device_name={'n' * 100}&" in sent + "&"
    assert SECRET not in sent  # /device/code needs no secret


@respx.mock
async def test_identity_keeps_the_logins_case_and_a_dead_token_is_auth(client):
    respx.get(f"{LOGIN}/info").mock(
        side_effect=[
            httpx.Response(200, json={"id": "1234567", "login": "Ivan.Petrov", "client_id": "x", "psuid": "p"}),
            httpx.Response(401, text="401 Unauthorized"),
            httpx.Response(200, json={"id": "12ab", "login": "x"}),
        ]
    )
    who = await client.identity(Token(ACCESS))
    assert (who.login, who.uid) == ("Ivan.Petrov", "1234567")
    assert respx.calls.last.request.headers["Authorization"] == f"OAuth {ACCESS}"
    with pytest.raises(AuthError) as dead:
        await client.identity(Token(ACCESS))
    assert dead.value.token_dead and ACCESS not in str(dead.value)
    with pytest.raises(TransientError):
        await client.identity(Token(ACCESS))
