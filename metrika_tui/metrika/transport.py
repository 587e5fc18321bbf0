"""Where requests leave from: a transport bound to one local address (`[api] source_address`).

Metrika counts its 30 requests a second per client address; several addresses of one machine
(or 127.0.0.2, .3, ... on loopback in tests) make several hosts to the API.
"""

from __future__ import annotations

import httpx


def bound_transport(source_address: str | None, limits: httpx.Limits) -> httpx.AsyncHTTPTransport | None:
    """A transport whose connections leave from `source_address`; None (httpx's own) without one.
    `limits` go to the transport: a client given a transport ignores its own."""
    if source_address is None:
        return None
    return httpx.AsyncHTTPTransport(local_address=source_address, limits=limits)
