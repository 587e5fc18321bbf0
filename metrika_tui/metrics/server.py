"""Serving /metrics: prometheus_client's HTTP server in a thread of its own, bound before the
engine starts (a port in use stops the command at once), fed once the engine is open.

A scrape arrives on the server's thread; the figures that need the database are read on
the engine's event loop (`run_coroutine_threadsafe`), bounded by SCRAPE_TIMEOUT, so a
scrape never touches the database connection from another thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, disable_created_metrics, start_http_server
from prometheus_client.process_collector import ProcessCollector

from metrika_tui.metrics.collector import SyncCollector
from metrika_tui.metrics.figures import FigureKeeper, Figures
from metrika_tui.metrics.instruments import Instruments, guarded
from metrika_tui.settings import Settings, SettingsError

log = logging.getLogger(__name__)

disable_created_metrics()  # no `_created` series beside every counter: noise for Prometheus

#: the longest a scrape waits for the database's figures before it answers with the last ones
SCRAPE_TIMEOUT = 10.0


class MetricsServeError(SettingsError):
    """/metrics cannot be served where the settings say (a port in use, an address not ours)."""


class Exporter:
    """The registry, what feeds it, and the engine it watches once `attach` is called."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.instruments = Instruments(self.registry)
        self.registry.register(
            SyncCollector(self._figures, lambda: self._engine, lambda: self.instruments.passes.last_success)
        )
        self._engine = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._keeper: FigureKeeper | None = None
        self._last: Figures | None = None

    def attach(self, runtime) -> None:
        """Watch the runtime's engine (the Runtime's `on_engine` hook, on its event loop,
        before its workers and scheduler start: the start-up's pass is followed too)."""
        engine = runtime.engine
        self._loop = asyncio.get_running_loop()
        self._keeper = FigureKeeper(engine, self.instruments.passes)
        runtime.subscribe(guarded(self._keeper.note))
        runtime.subscribe(guarded(self.instruments.passes.event))
        engine.plan_listeners.append(guarded(self.instruments.passes.planned))
        engine.result_listeners.append(guarded(self.instruments.on_result))
        if hasattr(engine.client, "add_answer_listener"):
            engine.client.add_answer_listener(guarded(self.instruments.on_answer))
        self._engine = engine

    def detach(self) -> None:
        """The engine is stopping: scrapes stop asking its loop (they show this process only)."""
        self._engine, self._keeper, self._loop = None, None, None

    def _figures(self) -> Figures | None:
        """The shared figures, read on the engine's loop; called on the server's thread only."""
        keeper, loop = self._keeper, self._loop
        if keeper is None or loop is None or loop.is_closed():
            return None
        future = asyncio.run_coroutine_threadsafe(keeper.figures(), loop)
        try:
            self._last = future.result(SCRAPE_TIMEOUT)
        except Exception as exc:  # the loop busy past the timeout, or stopping
            future.cancel()
            log.warning("the figures for /metrics did not come in %.0fs: %s", SCRAPE_TIMEOUT, exc)
            if self._last is not None:
                last = self._last
                return Figures(
                    last.taken_at, last.states, last.synced_at, last.jobs, last.paces, last.report_used, read_ok=False
                )
        return self._last


class MetricsServer:
    """A bound, serving /metrics: `url` tells where; `close` stops it."""

    def __init__(self, exporter: Exporter, address: str, port: int) -> None:
        self.exporter = exporter
        try:
            self._httpd, self._thread = start_http_server(port, addr=address, registry=exporter.registry)
        except OSError as exc:
            raise MetricsServeError(_why_not(exc, address, port)) from None
        self.address, self.port = address, self._httpd.server_port

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        self.exporter.detach()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def _why_not(exc: OSError, address: str, port: int) -> str:
    where = f"metrics-port {port} on {address}"
    if exc.errno == errno.EADDRINUSE:
        return f"{where}: the port is in use (another process listens there; choose another [metrics] port)"
    if exc.errno == errno.EACCES:
        return f"{where}: not allowed (ports below 1024 need privileges; choose one above)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{where}: {address} is not an address of this machine"
    if isinstance(exc, socket.gaierror):
        return f"{where}: cannot resolve {address!r} ({exc.strerror})"
    return f"{where}: cannot listen ({exc.strerror or exc})"


@contextlib.contextmanager
def serving_metrics(settings: Settings) -> Iterator[MetricsServer | None]:
    """/metrics for the life of the block when `settings.metrics_port` is set (else None).
    Raises MetricsServeError at once when it cannot listen there."""
    if settings.metrics_port is None:
        yield None
        return
    server = MetricsServer(Exporter(), settings.metrics_address, settings.metrics_port)
    try:
        yield server
    finally:
        server.close()
