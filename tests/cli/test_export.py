"""`metrika-tui export`: what it writes equals what the store holds, it streams, and bad input
or a signal leaves nothing half-written."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stored_world import stored

from metrika_tui.store import EXPORT_COLUMNS, ExportQuery, Store
from metrika_tui.text import visible

COMMAND = [sys.executable, "-m", "metrika_tui"]
HOSTILE = 'Shop, "best"\x1b[2J\nline two'


def export(env: dict, *args: str, code: int = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run([*COMMAND, "export", *args], env=env, capture_output=True, text=True, timeout=90)
    assert proc.returncode == code, (proc.returncode, proc.stdout[-2000:], proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def offline(make_env) -> dict:
    return make_env("http://127.0.0.1:9")  # export never asks the API


# -- what it writes ------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_demo_worlds_export_equals_what_the_store_holds(make_env):
    env = make_env("http://127.0.0.1:9")
    env.pop("METRIKA_DB")  # --demo: the demo database in the data folder, its own simulator
    subprocess.run([*COMMAND, "sync", "--demo"], env=env, capture_output=True, check=True, timeout=120)

    daily = export(env, "daily", "--demo")
    assert daily.stdout.splitlines()[0].split(",")[:5] == [
        "counter_id",
        "counter_name",
        "site",
        "account_login",
        "date",
    ]
    daily_rows = csv_rows(daily.stdout)
    monthly_rows = csv_rows(export(env, "monthly", "--demo").stdout)
    lines = [json.loads(line) for line in export(env, "daily", "--demo", "--format", "jsonl").stdout.splitlines()]

    async def held() -> tuple[dict, dict, dict, dict]:
        store = await Store.open(Path(env["METRIKA_DATA_DIR"]) / "demo.db")
        try:
            counters = {r.id: r for r in await store.counter_rows()}
            days = {cid: await store.daily_stats(cid) for cid in counters}
            months = {cid: await store.monthly_stats(cid) for cid in counters}
            return counters, days, months, await store.table_counts()
        finally:
            await store.close()

    counters, days, months, counts = asyncio.run(held())
    assert len(daily_rows) == len(lines) == counts["daily_stats"] > 0
    assert len(monthly_rows) == counts["monthly_stats"] > 0
    for cid, stats in days.items():
        mine = [r for r in daily_rows if int(r["counter_id"]) == cid]
        assert [r["date"] for r in mine] == [s.date.isoformat() for s in stats]
        for field in ("visits", "users", "pageviews"):
            assert sum(int(r[field]) for r in mine) == sum(getattr(s, field) for s in stats)
        assert [float(r["bounce_rate_percent"]) for r in mine] == [s.bounce_rate for s in stats]
        assert [float(r["avg_visit_duration_seconds"]) for r in mine] == [s.avg_visit_duration for s in stats]
        assert {(r["counter_name"], r["site"], r["account_login"]) for r in mine} == {
            (counters[cid].name, counters[cid].site, counters[cid].account_login)
        }
        assert sum(line["visits"] for line in lines if line["counter_id"] == cid) == sum(s.visits for s in stats)
        month_rows = [r for r in monthly_rows if int(r["counter_id"]) == cid]
        assert [(r["month"], int(r["users"]), int(r["days"])) for r in month_rows] == [
            (m.month.isoformat(), m.users, m.days) for m in months[cid]
        ]
    assert list(lines[0]) == list(EXPORT_COLUMNS["daily"]) and lines[0]["sampled"] is False


@pytest.mark.slow
def test_filters_pick_counters_accounts_and_days(tmp_path, offline):
    asyncio.run(stored(Path(offline["METRIKA_DB"]), {"alpha": [101, 102], "beta": [201]}, days=70))

    def pairs(*args: str) -> list[tuple[int, str]]:
        return [(int(r["counter_id"]), r.get("date") or r["month"]) for r in csv_rows(export(offline, *args).stdout)]

    assert {c for c, _ in pairs("daily")} == {101, 102, 201} and len(pairs("daily")) == 210
    assert {c for c, _ in pairs("daily", "--counter-id", "102", "--counter-id", "201")} == {102, 201}
    assert {c for c, _ in pairs("daily", "--counter-id", "101", "201")} == {101, 201}
    assert {c for c, _ in pairs("daily", "--account-id", "1")} == {101, 102}
    window = pairs("daily", "--counter-id", "101", "--from", "2026-01-30", "--to", "2026-02-02")
    assert [d for _, d in window] == ["2026-01-30", "2026-01-31", "2026-02-01", "2026-02-02"]
    february = pairs("daily", "--counter-id", "101", "--from", "2026-02", "--to", "2026-02")
    assert len(february) == 28 and february[-1][1] == "2026-02-28"
    # monthly: the months the days touch (mid-January counts January in)
    assert [m for _, m in pairs("monthly", "--counter-id", "201", "--from", "2026-01-15", "--to", "2026-02-01")] == [
        "2026-01-01",
        "2026-02-01",
    ]
    assert pairs("daily", "--from", "2027-01-01") == []  # nothing there: the header only, exit 0


def test_names_from_outside_are_made_visible_in_csv_and_kept_exact_in_json_lines(offline):
    asyncio.run(
        stored(Path(offline["METRIKA_DB"]), {"agency": [7]}, days=3, sampled=frozenset({7}), names={7: HOSTILE})
    )
    out = export(offline, "daily").stdout
    assert "\x1b" not in out and len(out.splitlines()) == 4  # the header and 3 rows: no name split a line
    rows = csv_rows(out)
    assert [r["counter_name"] for r in rows] == [visible(HOSTILE)] * 3 and rows[0]["sampled"] == "true"
    jsonl = export(offline, "daily", "--format", "jsonl").stdout
    assert "\x1b" not in jsonl and len(jsonl.splitlines()) == 3
    assert [json.loads(line)["counter_name"] for line in jsonl.splitlines()] == [HOSTILE] * 3
    monthly = csv_rows(export(offline, "monthly").stdout)
    assert [r["sampled"] for r in monthly] == ["true"]  # a month with a sampled day is sampled


def test_output_goes_to_a_file_whole_with_a_summary_on_stderr(tmp_path, offline):
    asyncio.run(stored(Path(offline["METRIKA_DB"]), {"agency": [7, 8]}, days=5))
    target = tmp_path / "out" / "daily.jsonl"
    target.parent.mkdir()
    proc = export(offline, "daily", "--output", str(target))
    assert proc.stdout == "" and "exported 10 daily rows to" in proc.stderr
    lines = target.read_text().splitlines()
    assert len(lines) == 10 and json.loads(lines[0])["counter_id"] == 7  # .jsonl: JSON Lines unless told
    assert os.listdir(target.parent) == ["daily.jsonl"]  # no temporary file left
    assert stat_mode(target) == 0o666 & ~current_umask()


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- bad input and stops ---------------------------------------------------------------------------

BAD = {
    # name: (arguments, what stderr says)
    "unknown counter": (["daily", "--counter-id", "7", "999"], "unknown counter id(s): 999"),
    "unknown account": (["monthly", "--account-id", "42"], "unknown account id 42"),
    "counter of another account": (["daily", "--account-id", "1", "--counter-id", "9"], "not counters of account 1"),
    "dates reversed": (["daily", "--from", "2026-03-10", "--to", "2026-03-01"], "is after --to"),
    "no such day": (["daily", "--from", "2026-02-30"], "no such date"),
    "not a date": (["daily", "--to", "yesterday"], "YYYY-MM-DD"),
    "zero id": (["daily", "--counter-id", "0"], "above zero"),
    "unknown format": (["daily", "--format", "xlsx"], "invalid choice"),
    "unknown grain": (["weekly"], "invalid choice"),
    "output is a folder": (["daily", "--output", "{tmp}"], "is a folder"),
    "output folder missing": (["daily", "--output", "{tmp}/no/such/out.csv"], "does not exist"),
}


@pytest.mark.parametrize(("args", "fragment"), BAD.values(), ids=BAD.keys())
def test_bad_input_is_refused_and_nothing_is_written(tmp_path, offline, args, fragment):
    asyncio.run(stored(Path(offline["METRIKA_DB"]), {"a": [7], "b": [9]}, days=2))
    target = tmp_path / "kept.csv"
    target.write_text("an earlier export\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--output" not in args:
        args += ["--output", str(target)]
    proc = export(offline, *args, code=2)
    assert fragment in proc.stderr and proc.stderr.startswith(("metrika-tui:", "usage")), proc.stderr
    assert target.read_text() == "an earlier export\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".part")) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_output_folder_is_refused(tmp_path, offline):
    asyncio.run(stored(Path(offline["METRIKA_DB"]), {"a": [7]}, days=2))
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    proc = export(offline, "daily", "--output", str(locked / "out.csv"), code=2)
    assert "cannot write there (Permission denied)" in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_mid_export_leaves_the_old_file_and_no_temporary_one(tmp_path, offline, sig):
    asyncio.run(stored(Path(offline["METRIKA_DB"]), {"a": list(range(1, 401))}, days=365))  # 146,000 rows
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "daily.csv"
    target.write_text("an earlier export\n")
    proc = subprocess.Popen(
        [*COMMAND, "export", "daily", "--format", "jsonl", "--output", str(target)],
        env=offline,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size > 100_000 for p in folder.glob(".daily.csv.*.part")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the export never got going"
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig, err
    assert f"stopped by {sig.name}: nothing written to {target}" in err and "Traceback" not in err
    assert target.read_text() == "an earlier export\n"
    assert [p.name for p in folder.iterdir()] == ["daily.csv"]


def test_a_reader_that_stops_early_ends_the_export_quietly(offline):
    asyncio.run(stored(Path(offline["METRIKA_DB"]), {"a": list(range(1, 201))}, days=200))  # 40,000 rows
    proc = subprocess.Popen([*COMMAND, "export", "daily"], env=offline, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().startswith(b"counter_id,")
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    assert proc.wait(30) == 0 and err == ""


# -- the store's side: batches, not a list ------------------------------------------------------


async def test_the_store_hands_rows_over_in_bounded_batches_and_lets_go_when_closed_early(tmp_path):
    db = tmp_path / "m.db"
    await stored(db, {"a": [1, 2, 3]}, days=20)
    store = await Store.open(db)
    try:
        query = ExportQuery("daily")
        assert await store.export_count(query) == 60
        batches = [batch async for batch in store.export_batches(query, batch=7)]
        assert [len(b) for b in batches] == [7] * 8 + [4]
        rows = [row for b in batches for row in b]
        assert [(r[0], r[4]) for r in rows] == sorted((r[0], r[4]) for r in rows)  # by counter, then day
        assert len(rows[0]) == len(EXPORT_COLUMNS["daily"])
        async with contextlib.aclosing(store.export_batches(query, batch=5)) as partial:
            async for _ in partial:
                break  # a reader that stops after one batch
        assert await asyncio.wait_for(store.export_count(ExportQuery("monthly")), 5) == 3  # the connection is free
    finally:
        await store.close()


def test_a_long_export_to_a_file_tells_its_progress_on_stderr(monkeypatch, capsys):
    from metrika_tui.cli import export_cmd

    now = [0.0]
    monkeypatch.setattr(export_cmd.time, "monotonic", lambda: now[0])
    progress = export_cmd._Progress("out.csv")
    progress.total = 100_000
    for _ in range(20):  # 20 batches over 25 s
        now[0] += 1.25
        progress.advance(5_000)
    progress.done("daily")
    lines = capsys.readouterr().err.splitlines()
    assert lines[:3] == [
        "exporting: 5,000 of 100,000 rows (5%), 1s",  # after a second, then every 10 s in a log
        "exporting: 45,000 of 100,000 rows (45%), 11s",
        "exporting: 85,000 of 100,000 rows (85%), 21s",
    ]
    assert lines[3] == "exported 100,000 daily rows to out.csv in 25.0s" and len(lines) == 4
    quiet = export_cmd._Progress(None)  # to stdout: nothing on stderr at all
    quiet.advance(5_000)
    quiet.done("daily")
    assert capsys.readouterr().err == ""
