"""The world: deterministic, cheap, and shaped like real traffic."""

from __future__ import annotations

import datetime as dt
import statistics
import tracemalloc

from metrika_tui.models import DailyStat
from metrika_tui.simulator import DEMO_TOKENS, World

from .helpers import NOW

DAY = dt.timedelta(days=1)


def test_same_seed_same_world_other_seed_other_world():
    a, b, c = World.generate(seed=11), World.generate(seed=11), World.generate(seed=12)
    assert a.tokens == b.tokens and a.tokens != c.tokens
    cid = a.accounts[0].counter_ids[0]
    assert a.counters_of(a.tokens[0]) == b.counters_of(b.tokens[0])
    day = dt.date(2025, 6, 3)
    assert a.daily(cid, day, NOW) == b.daily(cid, day, NOW)
    other = c.accounts[0].counter_ids[0]
    assert a.daily(cid, day, NOW) != c.daily(other, day, NOW)


def test_generate_shapes_accounts_and_counters():
    w = World.generate(seed=3, accounts=4, counters_per_account=7)
    assert len(w.accounts) == len(w.tokens) == 4
    ids = [c.id for t in w.tokens for c in w.counters_of(t)]
    assert len(ids) == len(set(ids)) == 28 == w.counter_count()
    for token in w.tokens:
        for counter in w.counters_of(token):
            assert w.owner(counter.id) is w.account(token)
            assert counter.owner_login == w.account(token).login
            assert dt.datetime.fromisoformat(counter.create_time).utcoffset() is not None
    assert w.counter(max(ids) + 1) is None and w.owner(min(ids) - 1) is None


def test_time_zones_are_mostly_moscow_with_some_others():
    w = World.generate(seed=5, accounts=40, counters_per_account=10)
    zones = [c.time_zone for t in w.tokens for c in w.counters_of(t)]
    moscow = zones.count("Europe/Moscow") / len(zones)
    assert 0.75 < moscow < 0.95
    assert len(set(zones)) >= 4


def test_a_huge_world_costs_no_memory_until_asked():
    tracemalloc.start()
    w = World.generate(seed=1, accounts=10_000, counters_per_account=10)
    cid = w.accounts[9_999].counter_ids[9]
    figures = w.daily(cid, dt.date(2026, 1, 20), NOW)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert w.counter_count() == 100_000
    assert figures.visits >= 0
    assert peak < 8_000_000  # the accounts index only, not 100,000 counters' figures


def test_demo_world_is_fixed_and_realistic():
    w = World.demo()
    assert (
        w.tokens == list(DEMO_TOKENS) == ["demo-agency-alpha-token", "demo-agency-beta-token", "demo-shop-gamma-token"]
    )
    sizes = [len(w.counters_of(t)) for t in w.tokens]
    assert all(4 <= n <= 7 for n in sizes)
    counters = [c for t in w.tokens for c in w.counters_of(t)]
    assert any(c.time_zone != "Europe/Moscow" for c in counters)
    assert all(c.site and c.name and c.create_time for c in counters)
    assert World.demo().daily(counters[0].id, dt.date(2026, 2, 2), NOW) == w.daily(
        counters[0].id, dt.date(2026, 2, 2), NOW
    )


def _days(w: World, cid: int, first: dt.date, n: int) -> list[DailyStat]:
    return [w.daily(cid, first + DAY * i, NOW) for i in range(n)]


def test_daily_figures_are_consistent():
    w = World.demo()
    for counter in w.counters_of(DEMO_TOKENS[0]):
        for d in _days(w, counter.id, dt.date(2025, 11, 1), 60):
            if d.visits:
                assert 1 <= d.users <= d.visits <= d.pageviews
                assert 0 <= d.bounce_rate <= 100 and d.avg_visit_duration > 0
            else:
                assert (d.users, d.pageviews) == (0, 0)


def test_weekly_rhythm_is_visible():
    """Over a year, each counter's weekend differs from its weekdays well beyond the noise."""
    w = World.demo()
    first = dt.date(2025, 1, 13)  # a Monday
    distinct = 0
    for counter in w.counters_of(DEMO_TOKENS[0]) + w.counters_of(DEMO_TOKENS[1]):
        days = _days(w, counter.id, first, 364)
        weekday = statistics.mean(d.visits for d in days if d.date.weekday() < 5)
        weekend = statistics.mean(d.visits for d in days if d.date.weekday() >= 5)
        if abs(weekend / weekday - 1) > 0.05:
            distinct += 1
    assert distinct >= 8  # of 11 counters


def test_traffic_changes_over_the_years():
    w = World.demo()
    counter = w.counters_of(DEMO_TOKENS[2])[0]
    year = lambda start: sum(d.visits for d in _days(w, counter.id, start, 365))  # noqa: E731
    assert year(dt.date(2019, 1, 1)) != year(dt.date(2025, 1, 1))


def test_month_users_are_strictly_fewer_than_the_sum_of_daily_users():
    w = World.generate(seed=8, accounts=3, counters_per_account=5)
    checked = 0
    for token in w.tokens:
        for counter in w.counters_of(token):
            for month in (dt.date(2025, 11, 1), dt.date(2026, 2, 1)):
                nxt = (month + dt.timedelta(days=32)).replace(day=1)
                days = _days(w, counter.id, month, (nxt - month).days)
                with_users = [d.users for d in days if d.users]
                if len(with_users) < 2:
                    continue
                users = w.month_users(counter.id, month, NOW)
                assert max(with_users) <= users < sum(with_users)
                assert users == w.month_users(counter.id, month, NOW)  # deterministic
                checked += 1
    assert checked >= 20


def test_no_data_before_creation_or_in_the_future():
    w = World.demo()
    counter = w.counters_of(DEMO_TOKENS[2])[-1]  # created 2025-10-20
    created = dt.date.fromisoformat(counter.create_time[:10])
    assert w.daily(counter.id, created - DAY, NOW).visits == 0
    assert w.daily(counter.id, NOW.date() + DAY, NOW).visits == 0
    assert any(d.visits for d in _days(w, counter.id, created, 10))


def test_today_is_partial_and_grows_through_the_day():
    w = World.demo()
    cid = w.counters_of(DEMO_TOKENS[0])[0].id  # Moscow: NOW is 15:00 local
    today = dt.date(2026, 3, 10)
    morning = w.daily(cid, today, NOW - dt.timedelta(hours=6))
    afternoon = w.daily(cid, today, NOW)
    final = w.daily(cid, today, NOW + dt.timedelta(days=1))
    assert morning.visits < afternoon.visits < final.visits
    assert abs(afternoon.visits / final.visits - 15 / 24) < 0.01


def test_today_follows_the_counters_time_zone():
    w = World.demo()
    vladivostok_like = next(c for c in w.counters_of(DEMO_TOKENS[1]) if c.time_zone == "Asia/Novosibirsk")
    late_utc = dt.datetime(2026, 3, 10, 20, 0, tzinfo=dt.UTC)  # already the 11th in Novosibirsk
    assert w.local_now(vladivostok_like.id, late_utc).date() == dt.date(2026, 3, 11)
    assert w.daily(vladivostok_like.id, dt.date(2026, 3, 11), late_utc).visits > 0


def test_outage_days_have_no_visits_and_can_be_switched_off():
    first = dt.date(2024, 1, 1)
    noisy = World.generate(seed=2, accounts=2, counters_per_account=5)
    steady = World.generate(seed=2, accounts=2, counters_per_account=5, outage_share=0.0)
    pairs = [
        (noisy.daily(cid, first + DAY * n, NOW), steady.daily(cid, first + DAY * n, NOW))
        for cid in (cid for a in noisy.accounts for cid in a.counter_ids)
        for n in range(365)
    ]
    live = [(a, b) for a, b in pairs if b.visits]
    outages = [a for a, b in live if not a.visits]
    assert 0 < len(outages) < 0.02 * len(live)  # a few days a year
    assert all(a == b for a, b in live if a.visits)  # otherwise the same figures


def test_the_simulator_leans_on_nothing_of_metrika_tui_but_the_models_and_the_clock():
    import ast
    from pathlib import Path

    import metrika_tui.simulator as package

    for source in Path(package.__file__).parent.glob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else ([a.name for a in node.names] if isinstance(node, ast.Import) else [])
            )
            for name in names:
                if name.startswith("metrika_tui"):
                    assert name in ("metrika_tui.models", "metrika_tui.clock") or name.startswith(
                        "metrika_tui.simulator"
                    ), (source.name, name)
