"""`metrika-tui health [--max-age DURATION] [--json]`: exit 0 when the sync is healthy, else 1
with one line per reason (see engine.health). For HEALTHCHECK, systemd and monitoring."""

from __future__ import annotations

import argparse
import asyncio

from metrika_tui.cli.errors import EXIT_FAILED, EXIT_OK
from metrika_tui.engine.health import Health, check_health
from metrika_tui.settings import Settings
from metrika_tui.text import dumps, visible
from metrika_tui.timefmt import span


def run_health(settings: Settings, args: argparse.Namespace) -> int:
    health = asyncio.run(check_health(settings, max_age=args.max_age))
    if args.json:
        print(dumps(health.as_dict(), indent=2))
    elif health.healthy:
        print(_healthy_line(health, settings))
    else:
        for reason in health.reasons:
            print(f"unhealthy: {reason}")
    return EXIT_OK if health.healthy else EXIT_FAILED


def _healthy_line(health: Health, settings: Settings) -> str:
    """Healthy: it opened the store, found counters to sync and a slot planned."""
    counters = health.scope.active_counters if health.scope else 0
    oldest = f"oldest data {span(health.oldest_age)} old" if health.oldest_age is not None else "none synced yet"
    bound = f"at most {span(health.max_age)}" if health.max_age else "each login's 3 intervals"
    slot = health.last_slot
    planned = (
        f"; the {slot.slot.astimezone(settings.tz):%H:%M %Z} slot planned by {visible(slot.origin)}" if slot else ""
    )
    return f"healthy: {counters} counter(s), {oldest} ({bound}){planned}"
