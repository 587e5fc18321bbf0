"""The simulator as one object: the app, its live state, and ways to serve it.

`Simulator(world, config).app` is an ASGI app (mount it with httpx.ASGITransport for fast
tests); `serve_in_thread()` / `serve()` put it on real loopback HTTP with uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from metrika_tui.simulator.config import FaultConfig, SimulatorConfig
from metrika_tui.simulator.errors import ApiError
from metrika_tui.simulator.gate import ApiGate, token_of
from metrika_tui.simulator.hostile import HostileConfig
from metrika_tui.simulator.oauth import OAuthAnswer, YandexId
from metrika_tui.simulator.stats import SimStats, mask
from metrika_tui.simulator.world import World

CONTROL_PREFIX = "/simulator"
#: Yandex ID's paths (oauth.yandex.ru and login.yandex.ru), served beside the Metrika API
OAUTH_PATHS = frozenset({"/device/code", "/token", "/info"})


class SimulatorApp(Starlette):
    """Starlette for the /simulator control routes; every other path goes to the API gate."""

    def __init__(self, gate: ApiGate, routes: list[Route]) -> None:
        super().__init__(routes=routes)
        self.gate = gate

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and not path.startswith(CONTROL_PREFIX) and path not in OAUTH_PATHS:
            await self.gate(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


class Simulator:
    """A Metrika API stand-in over a World, with the real quotas, latency and faults."""

    def __init__(self, world: World, config: SimulatorConfig | None = None) -> None:
        self.world = world
        self.config = config or SimulatorConfig()
        self.stats = SimStats(label=self._label)
        self._gate = ApiGate(world, self.config, self.stats)
        #: the simulated Yandex ID (device login, refresh, login info); its controls are methods
        self.yandex_id = YandexId(world, self.config.oauth, self.config.clock, self._gate.revoked)
        self._gate.token_expired = self.yandex_id.is_expired
        self._gate.token_account = self.yandex_id.account_of
        self.app = SimulatorApp(self._gate, self._control_routes() + self._oauth_routes())

    def _label(self, token: str) -> str:
        account = self.world.account(token)
        return account.login if account is not None else mask(token)

    # control -----------------------------------------------------------------------------

    def revoke(self, token: str) -> None:
        """From now on the token answers 403 invalid_token, like a token the user revoked."""
        self._gate.revoked.add(token)

    def restore(self, token: str) -> None:
        self._gate.revoked.discard(token)

    def set_faults(self, faults: FaultConfig) -> None:
        self._gate.trouble.set_faults(faults)

    def set_hostile(self, hostile: HostileConfig) -> None:
        """Switch hostile tricks on (or off, with an empty config) from now on."""
        self._gate.hostile.config = hostile

    @property
    def faults(self) -> FaultConfig:
        return self._gate.trouble.faults

    @property
    def quotas(self):
        """The quota keeper (in-flight counts, report budget used), for tests and benchmarks."""
        return self._gate.quotas

    def _control_routes(self) -> list[Route]:
        async def stats(_request: Request) -> JSONResponse:
            return JSONResponse(self.stats.snapshot())

        def token_action(action, done: str):
            async def endpoint(request: Request) -> JSONResponse:
                token = await _token_in(request)
                if isinstance(token, JSONResponse):
                    return token
                action(token)
                return JSONResponse({done: self._label(token)})

            return endpoint

        async def faults(request: Request) -> JSONResponse:
            try:
                self.set_faults(FaultConfig.from_dict(await request.json()))
            except (ValueError, TypeError) as error:
                return JSONResponse({"error": str(error)}, status_code=400)
            return JSONResponse(self.faults.to_dict())

        async def hostile(request: Request) -> JSONResponse:
            try:
                self.set_hostile(HostileConfig.from_dict(await request.json()))
            except (ValueError, TypeError) as error:
                return JSONResponse({"error": str(error)}, status_code=400)
            config = self._gate.hostile.config
            return JSONResponse({"tricks": {k: None if v is None else sorted(v) for k, v in config.tricks.items()}})

        async def reset_stats(_request: Request) -> JSONResponse:
            self.stats.reset()
            return JSONResponse({"reset": True})

        p = CONTROL_PREFIX
        return [
            Route(f"{p}/stats", stats, methods=["GET"]),
            Route(f"{p}/revoke", token_action(self.revoke, "revoked"), methods=["POST"]),
            Route(f"{p}/restore", token_action(self.restore, "restored"), methods=["POST"]),
            Route(f"{p}/faults", faults, methods=["POST"]),
            Route(f"{p}/hostile", hostile, methods=["POST"]),
            Route(f"{p}/reset-stats", reset_stats, methods=["POST"]),
        ]

    def _oauth_routes(self) -> list[Route]:
        """Yandex ID's endpoints, and controls to settle a pending login."""
        yid = self.yandex_id

        def answer(call):
            try:
                return JSONResponse(call())
            except OAuthAnswer as refusal:
                return JSONResponse(refusal.body(), status_code=refusal.status)

        async def device_code(request: Request) -> JSONResponse:
            form = dict(parse_qsl((await request.body()).decode("latin-1")))
            return answer(lambda: yid.device_code(form))

        async def token(request: Request) -> JSONResponse:
            form = dict(parse_qsl((await request.body()).decode("latin-1")))
            return answer(lambda: yid.token(form, request.headers.get("authorization")))

        async def info(request: Request) -> JSONResponse:
            try:
                bearer = token_of(list(request.headers.raw))
            except ApiError:
                bearer = None
            return answer(lambda: self._gate.hostile.identity(yid.info(bearer)))

        def control(action):
            async def endpoint(request: Request) -> JSONResponse:
                try:
                    body = await request.json() if await request.body() else {}
                    login = action(body.get("user_code"), **({"login": body["login"]} if "login" in body else {}))
                except (ValueError, TypeError, AttributeError) as error:
                    return JSONResponse({"error": str(error)}, status_code=400)
                except KeyError as error:
                    return JSONResponse({"error": str(error)}, status_code=404)
                return JSONResponse({"user_code": login.user_code, "state": login.state})

            return endpoint

        p = CONTROL_PREFIX
        return [
            Route("/device/code", device_code, methods=["POST"]),
            Route("/token", token, methods=["POST"]),
            Route("/info", info, methods=["GET"]),
            Route(f"{p}/device/approve", control(yid.approve), methods=["POST"]),
            Route(f"{p}/device/deny", control(yid.deny), methods=["POST"]),
            Route(f"{p}/device/expire", control(yid.expire), methods=["POST"]),
        ]

    # serving -----------------------------------------------------------------------------

    def _server(self, host: str, port: int) -> uvicorn.Server:
        config = uvicorn.Config(self.app, host=host, port=port, log_level="warning", lifespan="off")
        return uvicorn.Server(config)

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve on loopback as a task of the running loop; yields the base URL once listening."""
        server = self._server(host, port)
        task = asyncio.create_task(server.serve())
        try:
            while not server.started:
                if task.done():
                    task.result()  # raises why it could not start
                    raise RuntimeError("the simulator stopped before it started listening")
                await asyncio.sleep(0.005)
            yield _base_url(server)
        finally:
            server.should_exit = True
            await task

    @contextlib.contextmanager
    def serve_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve on loopback from a background thread; yields the base URL once listening."""
        server = self._server(host, port)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(server.serve())
            except BaseException as error:  # surfaced to the caller below
                failure.append(error)

        thread = threading.Thread(target=run, name="metrika-simulator", daemon=True)
        thread.start()
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the simulator could not start") from (failure[0] if failure else None)
            thread.join(0.005)
        try:
            yield _base_url(server)
        finally:
            server.should_exit = True
            thread.join(10)


#: where a client reaches a server listening on every address
_REACHED_AT = {"0.0.0.0": "127.0.0.1", "::": "::1"}


def _base_url(server: uvicorn.Server) -> str:
    """The URL to reach it at; one listening on every address (0.0.0.0) is reached on loopback,
    where clients bound to 127.0.0.2, .3, ... (separate hosts to its per-address quota) reach it too."""
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    host = _REACHED_AT.get(host, host)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


async def _token_in(request: Request) -> str | JSONResponse:
    try:
        body = await request.json()
        token = body["token"]
        if not isinstance(token, str) or not token:
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": 'send JSON {"token": "<token>"}'}, status_code=400)
    return token


def run_forever(host: str, port: int, world: World, config: SimulatorConfig | None = None) -> None:
    """Serve until interrupted (the `metrika-tui simulator` command)."""
    Simulator(world, config)._server(host, port).run()
