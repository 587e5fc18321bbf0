"""The real `metrika-tui` against an API that means harm (the simulator's hostile mode).

Each case drives the commands as processes and asserts: no raw control byte in anything they
printed or logged (the bytes are checked), `--json` exact, per-counter failures that say what
was wrong while the rest of the pass syncs, nothing wrong stored (the stored days are the
simulator's truth), and every pass ending within a bound.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import zoneinfo
from pathlib import Path

import pytest

from metrika_tui.models import month_start
from metrika_tui.simulator import HostileConfig, Simulator, SimulatorConfig, World
from metrika_tui.simulator.hostile import BOGUS_ZONE, HOSTILE_ERROR, HOSTILE_LOGIN, HOSTILE_NAMES
from metrika_tui.text import visible

from .harness import BACKFILL_DAYS, Processes, peek, report, rig

#: what a terminal or a log reader would act on; the only control allowed is the line break
_FORMAT = set("\u2028\u2029\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def assert_clean(data: str | bytes, where: str) -> str:
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    raw = sorted(
        {hex(ord(ch)) for ch in text if (ord(ch) < 0x20 and ch != "\n") or 0x7F <= ord(ch) <= 0x9F or ch in _FORMAT}
    )
    assert raw == [], (where, raw, text[-2000:])
    return text


def outputs_clean(proc, what: str) -> str:
    assert_clean(proc.stderr, f"{what} stderr")
    return assert_clean(proc.stdout, f"{what} stdout")


def stored_days(db: Path, counter_id: int) -> dict[dt.date, tuple]:
    rows = peek(
        db, "SELECT date, visits, users, pageviews, sampled FROM daily_stats WHERE counter_id = ?", (counter_id,)
    )
    return {dt.date.fromisoformat(r[0]): r[1:] for r in rows}


def assert_stored_is_the_truth(db: Path, world: World, counter_id: int) -> int:
    """Every stored day a day of the first sync's window, with the world's figures (today is still
    going: at most the world's now); returns how many days are stored."""
    counter = world.counter(counter_id)
    today = dt.datetime.now(dt.UTC).astimezone(zoneinfo.ZoneInfo(counter.time_zone)).date()
    first = month_start(today - dt.timedelta(days=BACKFILL_DAYS - 1))
    days = stored_days(db, counter_id)
    for day, (visits, users, pageviews, _sampled) in days.items():
        assert first <= day <= today, (counter_id, day)
        truth = world.daily(counter_id, day)
        if day < today:
            assert (visits, users, pageviews) == (truth.visits, truth.users, truth.pageviews), (counter_id, day)
        else:
            assert visits <= truth.visits, (counter_id, day)
    return len(days)


@pytest.mark.slow
def test_hostile_names_logins_and_errors_never_reach_a_terminal_or_a_log_raw(tmp_path, make_env):
    world = World.generate(seed=71, accounts=2, counters_per_account=4)
    ids = [cid for a in world.accounts for cid in a.counter_ids]
    failing, foreign_zone, sampled = ids[0], ids[1], ids[2]
    hostile = HostileConfig(
        {
            "names": None,
            "errors": frozenset({failing}),
            "bogus_zone": frozenset({foreign_zone}),
            "sampled": frozenset({sampled}),
        }
    )
    log_file = tmp_path / "logs" / "sync.log"
    started = time.monotonic()
    with rig(tmp_path, make_env, world, SimulatorConfig(hostile=hostile), METRIKA_LOG_FILE=str(log_file)) as r:
        run = r.procs.run
        added = run("counters", "discover")
        assert added.returncode == 0, added.stderr
        assert "time zone this machine does not know" in outputs_clean(added, "discover") + added.stderr
        once = run("--headless", "--once")
        assert once.returncode == 1  # the counter whose reports are refused
        forced = run("sync", "--force")
        assert forced.returncode == 1
        json_once = run("--headless", "--once", "--log-format", "json")  # the failed counter is due again
        texts = {
            name: outputs_clean(proc, name)
            for name, proc in {
                "once": once,
                "sync": forced,
                "json once": json_once,
                "accounts list": run("accounts", "list"),
                "counters list": run("counters", "list"),
                "sync-status": run("sync-status"),
            }.items()
        }
        as_json = {
            name: json.loads(outputs_clean(run(*args), name))
            for name, args in {
                "status": ("sync-status", "--json"),
                "counters": ("counters", "list", "--json"),
                "accounts": ("accounts", "list", "--json"),
            }.items()
        }
        log = assert_clean(log_file.read_bytes(), "log file")

        # the names are shown, their controls made visible; JSON keeps them exact
        assert "␛[2J␛[31mRED" in texts["counters list"] and "Магазин [old] v2" in texts["counters list"]
        assert visible(HOSTILE_LOGIN)[:18] in texts["accounts list"]
        names = {c["counter_id"]: c["name"] for c in as_json["counters"]}
        assert names == {cid: HOSTILE_NAMES[cid % len(HOSTILE_NAMES)] for cid in ids}
        assert {a["login"] for a in as_json["accounts"]} == {HOSTILE_LOGIN}
        # the error: one line wherever it is told, never a forged line of its own
        assert "␍␊2026-01-01 00:00:00 INFO" in texts["sync"] and "␍␊2026-01-01" in log
        assert not any(line.startswith("2026-01-01") for text in [*texts.values(), log] for line in text.splitlines())
        json_lines = [json.loads(line) for line in texts["json once"].splitlines()]
        assert any(HOSTILE_ERROR in line["message"] for line in json_lines)  # exact, and escaped
        states = {c["counter_id"]: c for a in as_json["status"]["accounts"] for c in a["counters"]}
        assert states[failing]["state"] == "failed" and HOSTILE_ERROR in states[failing]["last_error"]
        assert {cid: c["state"] for cid, c in states.items() if cid != failing} == dict.fromkeys(
            set(ids) - {failing}, "ok"
        )

        # an unknown time zone fell back to the offset; sampled figures are stored marked, and counted
        assert assert_stored_is_the_truth(r.db, world, foreign_zone) > 0
        assert states[sampled]["sample_share"] == 0.1 and as_json["status"]["summary"]["sampled"] == 1
        assert "Sampled: 1" in texts["sync-status"]
        assert {row[3] for row in stored_days(r.db, sampled).values()} == {1}
        for cid in set(ids) - {failing}:
            assert_stored_is_the_truth(r.db, world, cid)
        assert stored_days(r.db, failing) == {}
    report("hostile_names", seconds=round(time.monotonic() - started, 1), log_lines=len(log.splitlines()))


#: counter index -> (trick, what its failure says)
WRONG_ANSWERS = {
    0: ("rows_outside", "outside the asked days"),
    1: ("rows_twice", "comes twice"),
    2: ("rows_negative", "visits is negative (-1381)"),
    3: ("rows_nan", "not a finite number: nan"),
    4: ("rows_infinite", "not a finite number: inf"),
    5: ("rows_absurd", "visits of 1e+30 is past belief"),
    6: ("endless_paging", "claims 1000000000 rows, and at most"),
    7: ("huge", "larger than 16,777,216 bytes"),
    8: ("trickle", "no whole answer within 2s"),
}


@pytest.mark.slow
def test_wrong_answers_fail_their_counters_clearly_and_the_pass_ends(tmp_path, make_env):
    world = World.generate(seed=72, accounts=2, counters_per_account=6)
    ids = [cid for a in world.accounts for cid in a.counter_ids]
    tricks = {trick: frozenset({ids[n]}) for n, (trick, _) in WRONG_ANSWERS.items()}
    hostile = HostileConfig(tricks, trickle_seconds=0.5, huge_bytes=20 * 1024 * 1024)
    healthy = ids[len(WRONG_ANSWERS) :]
    # a read may pause 1 s, a whole request 2 s; a counter gets 2 tries
    with rig(
        tmp_path,
        make_env,
        world,
        SimulatorConfig(hostile=hostile),
        METRIKA_REQUEST_TIMEOUT="1",
        METRIKA_REQUEST_DEADLINE_SECONDS="2",
        METRIKA_MAX_ATTEMPTS="2",
    ) as r:
        started = time.monotonic()
        proc = r.procs.run("sync", timeout=120)
        seconds = time.monotonic() - started
        out = outputs_clean(proc, "sync")
        status = {c["counter_id"]: c for a in r.procs.status()["accounts"] for c in a["counters"]}

    assert proc.returncode == 1 and seconds < 60, (proc.returncode, seconds)
    for n, (trick, words) in WRONG_ANSWERS.items():
        cid = ids[n]
        assert status[cid]["state"] == "failed", (trick, status[cid])
        assert words in status[cid]["last_error"], (trick, status[cid]["last_error"])
        assert "internal error" not in status[cid]["last_error"]
        assert f"Counter {cid} " in out
        assert stored_days(r.db, cid) == {}, trick  # nothing of a wrong answer is kept
        assert peek(r.db, "SELECT COUNT(*) FROM raw_answers WHERE counter_id = ?", (cid,))[0][0] == 0
    for cid in healthy:
        assert status[cid]["state"] == "ok"
        assert assert_stored_is_the_truth(r.db, world, cid) > 0
    bad_answers = [status[ids[n]]["last_error"] for n in WRONG_ANSWERS if n != 8]
    assert all(error.startswith("bad answer from Metrika") for error in bad_answers)
    report(
        "hostile_answers",
        seconds=round(seconds, 1),
        failed=len(WRONG_ANSWERS),
        synced=len(healthy),
        requests=r.sim.stats.snapshot().get("requests"),
    )


def test_a_counters_list_that_never_ends_is_refused_in_two_pages(tmp_path, make_env):
    world = World.generate(seed=73, accounts=1, counters_per_account=3)
    sim = Simulator(world, SimulatorConfig(hostile=HostileConfig.everywhere("endless_counters")))
    with sim.serve_in_thread(host="127.0.0.1", port=0) as url:
        procs = Processes(make_env(url), tmp_path)
        started = time.monotonic()
        added = procs.run("accounts", "add", stdin=world.tokens[0] + "\n", timeout=60)
        seconds = time.monotonic() - started
        listed = procs.run("accounts", "list", "--json")
    assert added.returncode == 1 and seconds < 20, (added.returncode, seconds, added.stderr)
    assert "the page at offset 1001 repeats the page before it" in outputs_clean(added, "add") + added.stderr
    assert json.loads(listed.stdout) == []  # nothing stored
    assert sim.stats.snapshot()["by_endpoint"]["counters"] == 2, sim.stats.snapshot()


def test_the_simulator_names_its_hostile_tricks():
    import pytest

    with pytest.raises(ValueError, match="unknown hostile tricks: nonsense"):
        HostileConfig.everywhere("names", "nonsense")
    assert HostileConfig.everywhere("names").on("names", (1,)) and not HostileConfig().on("names", (1,))
    assert BOGUS_ZONE not in zoneinfo.available_timezones()
