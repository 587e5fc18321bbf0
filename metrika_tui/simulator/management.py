"""The Management API's answers: counters as the real API describes them, and their paging."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from metrika_tui.models import Counter
from metrika_tui.simulator.errors import access_denied, invalid_parameter
from metrika_tui.simulator.params import page_number
from metrika_tui.simulator.world import Account, World, zone

_STATUSES = ("Active", "Deleted")


def counter_json(counter: Counter, now: dt.datetime) -> dict:
    """A counter with the fields real answers carry (booleans as 0/1 where the real one does)."""
    offset = now.astimezone(zone(counter.time_zone)).utcoffset() or dt.timedelta()
    return {
        "id": counter.id,
        "status": counter.status,
        "owner_login": counter.owner_login,
        "code_status": "CS_OK",
        "activity_status": "high" if counter.id % 3 == 0 else "medium" if counter.id % 3 == 1 else "low",
        "name": counter.name,
        "type": "simple",
        "favorite": 0,
        "permission": counter.permission,
        "create_time": counter.create_time,
        "time_zone_name": counter.time_zone,
        "time_zone_offset": int(offset.total_seconds() // 60),
        "partner_id": 0,
        "site": counter.site,
        "site2": {"site": counter.site, "domain": counter.site.removeprefix("www.")},
        "mirrors": [],
        "mirrors2": [],
        "gdpr_agreement_accepted": 0,
        "hide_address": 0,
        "visit_threshold": 1800,
        "features": [],
        "webvisor": {"arch_type": "none", "load_player_type": "proxy", "wv_version": 2, "wv_forms": 1},
        "code_options": {
            "async": 1,
            "informer": {"enabled": 0, "type": "ext", "size": 3, "indicator": "pageviews"},
            "visor": 1,
            "track_hash": 0,
            "xml_site": 0,
            "clickmap": 1,
            "in_one_line": 0,
            "ecommerce": 0,
        },
    }


def counters_page(world: World, account: Account, params: Mapping[str, str], now: dt.datetime) -> dict:
    """`GET /management/v1/counters`: `rows` counts every match, `offset` is 1-based."""
    per_page = page_number(params, "per_page", 1000)
    offset = page_number(params, "offset", 1)
    status = params.get("status", "Active")
    if status not in _STATUSES:
        raise invalid_parameter("status", f"one of {list(_STATUSES)}, got {status!r}")
    search = params.get("search_string", "").casefold()
    wanted = _id_filter(params.get("counter_ids", ""))
    matches = []
    for counter in world.counters_of(account.token):
        if wanted is not None and counter.id not in wanted:
            continue
        if counter.status != status:
            continue
        if search and search not in counter.name.casefold() and search not in counter.site.casefold():
            continue
        matches.append(counter)
    page = matches[offset - 1 : offset - 1 + per_page]
    return {"rows": len(matches), "counters": [counter_json(c, now) for c in page]}


def one_counter(world: World, account: Account, counter_id: int, now: dt.datetime) -> dict:
    """`GET /management/v1/counter/{id}`: someone else's counter is 403, like a missing one."""
    counter = world.counter(counter_id)
    if counter is None or not world.can_read(account, counter_id):
        raise access_denied(counter_id)
    return {"counter": counter_json(counter, now)}


def _id_filter(raw: str) -> set[int] | None:
    if not raw:
        return None
    try:
        return {int(part) for part in raw.split(",") if part.strip()}
    except ValueError:
        raise invalid_parameter("counter_ids", f"comma-separated numbers, got {raw!r}") from None
