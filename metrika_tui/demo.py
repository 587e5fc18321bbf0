"""`--demo`: the whole product against the bundled simulator, with no token and no network.

The simulator serves the fixed demo world on a free loopback port in a background thread;
the demo database gets the demo accounts and their counters on first use.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from metrika_tui.settings import Settings


@contextlib.contextmanager
def demo_simulator(settings: Settings) -> Iterator[Settings]:
    """Serve the demo world and yield the settings pointed at it (a no-op without --demo):
    the Metrika API and Yandex ID both, with the simulator's own OAuth app, whose codes
    approve themselves after a few seconds (`--demo accounts login` shows the whole login)."""
    if not settings.demo:
        yield settings
        return
    from metrika_tui.simulator import Simulator, SimulatorConfig, World
    from metrika_tui.tokens import Token

    config = SimulatorConfig.demo()
    sim = Simulator(World.demo(login_account=True), config)
    with sim.serve_in_thread(host="127.0.0.1", port=0) as base_url:
        yield settings.replace(
            api_url=base_url,
            oauth_url=base_url,
            login_url=base_url,
            oauth_client_id=config.oauth.client_id,
            oauth_client_secret=Token(config.oauth.client_secret),
        )


async def seed_demo(engine) -> None:
    """Give an empty demo database the demo accounts and their counters."""
    if not engine.settings.demo:
        return
    from metrika_tui.engine.accounts import add_account
    from metrika_tui.simulator import DEMO_TOKENS
    from metrika_tui.tokens import Token

    if await engine.store.account_count():
        return
    for raw in DEMO_TOKENS:
        await add_account(engine, Token(raw), user_id=None, discover=True)
