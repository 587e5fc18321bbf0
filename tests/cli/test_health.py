"""`metrika-tui health`: 0 when the store opens, a scheduler planned the last slot and no active
counter's data is older than the bound; else 1 with a line per reason."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stored_world import NOW, stored

from metrika_tui.clock import ManualClock
from metrika_tui.engine.health import check_health
from metrika_tui.engine.scheduler import SCHEDULE_NAME, Scheduler, current_slot
from metrika_tui.engine.service import Engine
from metrika_tui.settings import Settings
from metrika_tui.store import Store

COMMAND = [sys.executable, "-m", "metrika_tui"]
HOUR = dt.timedelta(hours=1)


def settings_for(tmp_path: Path) -> Settings:
    return Settings(db_path=tmp_path / "m.db", log_file=tmp_path / "sync.log", timezone="UTC", interval_minutes=60)


async def plan_slot(db: Path, moment: dt.datetime, origin: str = "daemon:1") -> None:
    """What a scheduler's tick leaves: the slot of `moment` planned."""
    store = await Store.open(db)
    try:
        slot = current_slot(moment, settings_for(db.parent))
        assert await store.note_slot(schedule=SCHEDULE_NAME, slot=slot.isoformat(), now=moment, origin=origin)
    finally:
        await store.close()


async def health_at(tmp_path: Path, moment: dt.datetime, **options):
    return await check_health(settings_for(tmp_path), now=moment, **options)


async def test_a_missing_or_empty_database_is_not_healthy(tmp_path):
    missing = await health_at(tmp_path, NOW)
    assert not missing.healthy and missing.reasons == (
        f"no database at {tmp_path / 'm.db'}: nothing was ever synced here",
    )
    assert not (tmp_path / "m.db").exists()  # a health check creates nothing
    await (await Store.open(tmp_path / "m.db")).close()
    empty = await health_at(tmp_path, NOW)
    assert not empty.healthy
    assert [r.split(":")[0] for r in empty.reasons] == ["no scheduler has planned a slot here yet", "nothing to sync"]


async def test_synced_counters_and_a_planned_slot_are_healthy_through_the_slot_and_its_grace(tmp_path):
    await stored(tmp_path / "m.db", {"alpha": [1, 2], "beta": [3]}, days=5)
    await plan_slot(tmp_path / "m.db", NOW)
    ok = await health_at(tmp_path, NOW + 10 * dt.timedelta(minutes=1))
    assert ok.healthy and ok.reasons == () and ok.oldest_age == dt.timedelta(minutes=10)
    assert ok.scope.active_counters == 3 and ok.last_slot.origin == "daemon:1"
    # the next slot's tick may be a little late: the slot before still counts for 2 minutes
    assert (await health_at(tmp_path, NOW + HOUR + dt.timedelta(minutes=1))).healthy
    late = await health_at(tmp_path, NOW + HOUR + dt.timedelta(minutes=3))
    assert not late.healthy and late.reasons == (
        "no scheduler planned the 2026-03-10 13:00 UTC slot: the last planned was 2026-03-10 12:00 UTC, 1h 3m ago,"
        " by daemon:1 (is a daemon running, and not paused?)",
    )


async def test_data_older_than_three_intervals_is_stale_and_max_age_moves_the_bound(tmp_path):
    await stored(tmp_path / "m.db", {"alpha": [1, 2], "beta": [3]}, days=5, names={2: "Flowers\x1b[2J"})
    later = NOW + 3 * HOUR + dt.timedelta(minutes=30)
    await plan_slot(tmp_path / "m.db", later)  # the scheduler lives on, but nothing was synced since
    stale = await health_at(tmp_path, later)
    assert not stale.healthy and stale.stale_count == 3
    (reason,) = stale.reasons
    assert reason.startswith("3 counter(s) with data older than the bound: ")
    assert '2 "Flowers␛[2J" 3h 30m old (bound 3h)' in reason and "\x1b" not in reason
    assert (await health_at(tmp_path, later, max_age=4 * HOUR)).healthy
    assert not (await health_at(tmp_path, later, max_age=3 * HOUR)).healthy


async def test_a_login_whose_quota_stretches_its_cadence_gets_a_longer_bound(tmp_path):
    db = tmp_path / "m.db"
    await stored(db, {"alpha": [1], "beta": [2]}, days=5)
    later = NOW + 3 * HOUR + dt.timedelta(minutes=30)
    await plan_slot(db, later)
    store = await Store.open(db)
    try:  # the server called alpha's day spent: its counters wait for the reset, and that is no fault
        await store.mark_login_spent(
            "alpha",
            now=NOW,
            until=dt.datetime(2026, 3, 11, tzinfo=dt.UTC),
            message="Quota exceeded",
            reason="daily quota",
        )
    finally:
        await store.close()
    health = await health_at(tmp_path, later)
    assert [s.counter_id for s in health.stale] == [2]  # beta's counter only


async def test_a_counter_never_synced_is_stale_once_it_waited_longer_than_the_bound(tmp_path):
    db = tmp_path / "m.db"
    store = await Store.open(db)
    try:
        from metrika_tui.models import Counter
        from metrika_tui.tokens import Token

        account = await store.add_account(user_id="u", login="alpha", token=Token("y0_" + "x" * 30), now=NOW)
        await store.upsert_counters(account.id, [Counter(9, "new", "new.example")], now=NOW)
    finally:
        await store.close()
    await plan_slot(db, NOW + 4 * HOUR)
    assert (await health_at(tmp_path, NOW + 2 * HOUR, max_age=3 * HOUR)).healthy
    waited = await health_at(tmp_path, NOW + 4 * HOUR)
    assert [(s.counter_id, s.synced) for s in waited.stale] == [(9, False)]
    assert "never synced in 4h (bound 3h)" in waited.reasons[0]


async def test_a_database_of_revoked_accounts_only_is_not_healthy(tmp_path):
    db = tmp_path / "m.db"
    await stored(db, {"alpha": [1], "beta": [2]}, days=5)
    await plan_slot(db, NOW)
    store = await Store.open(db)
    try:
        for account in await store.accounts():
            await store.revoke_account(account.id, reason="token rejected", now=NOW)
    finally:
        await store.close()
    health = await health_at(tmp_path, NOW + dt.timedelta(minutes=5))
    assert not health.healthy and health.stale == ()
    assert health.reasons == (
        "nothing to sync: every account (2) is revoked, its token refused "
        "(metrika-tui accounts login, or accounts add with a new token)",
    )


async def test_a_scheduler_starting_mid_slot_covers_that_slot_unless_another_planned_it(tmp_path):
    clock = ManualClock(NOW + dt.timedelta(minutes=20))
    settings = settings_for(tmp_path).replace(api_url="http://127.0.0.1:9")
    engines = [await Engine.open(settings, clock=clock) for _ in range(2)]
    try:
        first, second = (Scheduler(e, clock=clock) for e in engines)
        await first.catch_up()
        await second.catch_up()
        assert (first.last_planned_by_us, second.last_planned_by_us) == (True, None)  # None: the next tick tells
        slot = await engines[0].store.last_planned_slot()
        assert slot.slot == NOW and slot.planned_at == clock.now()
    finally:
        for engine in engines:
            await engine.close()
    assert (await health_at(tmp_path, clock.now(), max_age=HOUR)).reasons == (
        "nothing to sync: no accounts (add one: metrika-tui accounts add)",
    )  # the scheduler part holds


# -- the real command ------------------------------------------------------------------------------


def health(env: dict, *args: str) -> tuple[int, dict]:
    proc = subprocess.run([*COMMAND, "health", "--json", *args], env=env, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.mark.slow
def test_the_commands_exit_codes_fresh_synced_stale_and_revoked_only(tmp_path, make_env):
    env = make_env("http://127.0.0.1:9")
    db = Path(env["METRIKA_DB"])
    code, report = health(env)
    assert code == 1 and report["reasons"][0].startswith("no database at") and not db.exists()

    now = dt.datetime.now(dt.UTC)
    asyncio.run(stored(db, {"alpha": [1, 2]}, days=3, now=now))
    code, report = health(env)
    assert code == 1 and report["scheduler"]["alive"] is False  # synced by someone, but no scheduler
    asyncio.run(plan_slot(db, now))
    code, report = health(env)
    assert code == 0 and report["healthy"] and report["reasons"] == [] and report["data"]["active_counters"] == 2
    text = subprocess.run([*COMMAND, "health"], env=env, capture_output=True, text=True)
    assert text.returncode == 0 and text.stdout.startswith("healthy: 2 counter(s), oldest data")

    time.sleep(1.1)
    code, report = health(env, "--max-age", "1s")
    assert code == 1 and report["data"]["stale_counters"] == 2 and report["data"]["max_age_seconds"] == 1.0
    text = subprocess.run([*COMMAND, "health", "--max-age", "1s"], env=env, capture_output=True, text=True)
    assert text.returncode == 1 and text.stdout.startswith("unhealthy: 2 counter(s) with data older than the bound")

    for account_id in ("1",):
        subprocess.run([*COMMAND, "accounts", "revoke", account_id], env=env, check=True, capture_output=True)
    code, report = health(env)
    assert code == 1 and report["reasons"][0].startswith("nothing to sync: every account (1) is revoked")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("0", "above zero"), ("400d", "at most 366d"), ("=-5m", "cannot be negative"), ("soon", "like 90s")],
)
def test_a_bad_max_age_is_refused(make_env, value, fragment):
    flag = ["--max-age" + value] if value.startswith("=") else ["--max-age", value]
    proc = subprocess.run(
        [*COMMAND, "health", *flag], env=make_env("http://127.0.0.1:9"), capture_output=True, text=True
    )
    assert proc.returncode == 2 and fragment in proc.stderr and "Traceback" not in proc.stderr
