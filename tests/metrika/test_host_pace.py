"""The request pace shared by every process on the host (host_pace.HostPacer): pacers on one
file keep to one limit together, the file's lock never stalls the event loop, a dead holder
or a stale file holds nobody up, and where the file cannot be used the pacer paces alone."""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_limits import AdvancingTime, tightest

from metrika_tui.metrika import host_pace
from metrika_tui.metrika.host_pace import HostPacer, address_of, make_pacer
from metrika_tui.metrika.limits import RatePacer
from metrika_tui.simulator import Simulator, SimulatorConfig, World

CHILD = Path(__file__).with_name("pace_child.py")
ADDRESS = "api-metrika.yandex.net:443"


def shared(path: Path, time_: AdvancingTime, address: str = ADDRESS, rate: float = 30.0) -> HostPacer:
    """A pacer on `path` as another process would make it (a descriptor of its own), on fake time."""
    return HostPacer(
        rate, path=path, address=address, margin=0.05, monotonic=time_.monotonic, sleep=time_.sleep, boot=lambda: 0.0
    )


def crashed_pacer(path: Path, time_: AdvancingTime, rate: float = 30.0) -> HostPacer:
    """A pacer of boot 0 whose clock never moves: every booking it makes lies ahead of its now."""

    async def stand_still(_seconds: float) -> None:
        return None

    return HostPacer(
        rate, path=path, address=ADDRESS, margin=0.05, monotonic=time_.monotonic, sleep=stand_still, boot=lambda: 0.0
    )


async def stampede(pacers: list[RatePacer], time_: AdvancingTime, count: int) -> list[float]:
    """`count` requests taking turns over `pacers`; every tenth leaves 40 ms after its slot
    (held back by the event loop) and the pacer is told when. Returns when each left."""
    left = []
    for i in range(count):
        sent = await pacers[i % len(pacers)].wait()
        if i % 10 == 9:
            time_.t += 0.04
        sent()
        left.append(time_.t)
    return sorted(left)


def test_the_monotonic_clock_is_one_clock_for_every_process():
    """What sharing moments across processes rests on: a child's reading lies between two of ours."""
    before = time.monotonic()
    child = subprocess.run(
        [sys.executable, "-c", "import time; print(repr(time.monotonic()))"], capture_output=True, text=True, check=True
    )
    after = time.monotonic()
    assert before <= float(child.stdout) <= after


async def test_two_pacers_on_one_file_keep_one_limit_together(tmp_path):
    time_ = AdvancingTime()
    pacers = [shared(tmp_path / "pace", time_), shared(tmp_path / "pace", time_)]
    left = await stampede(pacers, time_, 300)
    assert tightest(left) >= 1.05 - 1e-9  # never 31 within 1 s + margin, the late ones included
    assert 300 / time_.t > 26  # and together they keep (nearly) the rate: 28.6 a second at most
    assert all(p.counts["waited"] == 0 for p in pacers)  # nobody else held the lock

    alone = AdvancingTime()  # the same with two pacers each pacing its own process: twice the rate
    left = await stampede(
        [RatePacer(30.0, margin=0.05, monotonic=alone.monotonic, sleep=alone.sleep) for _ in range(2)], alone, 300
    )
    assert tightest(left) < 0.6


async def test_other_addresses_keep_their_own_pace(tmp_path):
    time_ = AdvancingTime()
    pacers = [shared(tmp_path / "pace", time_, "127.0.0.1:8001"), shared(tmp_path / "pace", time_, "127.0.0.1:8002")]
    await stampede(pacers, time_, 120)
    assert 120 / time_.t > 50  # two servers, two budgets of 30


async def test_a_lock_held_by_another_process_waits_off_the_event_loop(tmp_path):
    path = tmp_path / "pace"
    pacer = HostPacer(30.0, path=path, address=ADDRESS)
    other = os.open(path, os.O_RDWR)  # another open file: its lock excludes ours like another process's
    fcntl.flock(other, fcntl.LOCK_EX)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    waiting = asyncio.create_task(pacer.wait())
    await asyncio.sleep(0.3)
    assert not waiting.done() and ticks >= 10  # the loop ran on while the booking waited
    fcntl.flock(other, fcntl.LOCK_UN)
    sent = await asyncio.wait_for(waiting, 2)
    assert pacer.counts["waited"] == 1

    fcntl.flock(other, fcntl.LOCK_EX)  # the request leaves while the file is held again
    await asyncio.sleep(0.05)  # well after its booking, so "from when it left" can be told apart
    left = time.monotonic()
    sent()
    assert pacer.writing  # kept, and written down once the file is free
    fcntl.flock(other, fcntl.LOCK_UN)
    for _ in range(200):
        await asyncio.sleep(0.01)
        if not pacer.writing:
            break
    assert not pacer.writing
    # another process allowed one send a second waits a second from the moment ours left
    probe_time = AdvancingTime()
    probe_time.t = time.monotonic()
    probe = HostPacer(1.0, path=path, address=ADDRESS, monotonic=probe_time.monotonic, sleep=probe_time.sleep)
    await probe.wait()
    assert probe_time.t >= left + 1.0 - 1e-9  # counted from when it left, not from its booking
    probe.close()
    ticker.cancel()
    os.close(other)
    pacer.close()


async def test_a_holder_that_never_lets_go_holds_nobody_up_for_long(tmp_path, caplog, monkeypatch):
    """A process stopped (^Z) inside its few microseconds under the lock: the others book
    alone after LOCK_PATIENCE, say so once, and share again once the file is free."""
    monkeypatch.setattr(host_pace, "LOCK_PATIENCE", 0.2)
    path = tmp_path / "pace"
    pacer = HostPacer(30.0, path=path, address=ADDRESS)
    other = os.open(path, os.O_RDWR)
    fcntl.flock(other, fcntl.LOCK_EX)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger=host_pace.__name__):
        for _ in range(3):
            (await asyncio.wait_for(pacer.wait(), 5))()
    assert time.monotonic() - started < 6 * 0.2 + 1  # each booking waited 0.2 s at most
    assert len(caplog.records) == 1 and "locked by another process" in caplog.text
    fcntl.flock(other, fcntl.LOCK_UN)
    os.close(other)
    fast = pacer.counts["fast"]
    (await pacer.wait())()
    assert pacer.counts["fast"] > fast  # shared again
    pacer.close()


async def test_a_killed_holder_releases_the_lock(tmp_path):
    path = tmp_path / "pace"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    pacer = HostPacer(30.0, path=path, address=ADDRESS)
    waiting = asyncio.create_task(pacer.wait())
    await asyncio.sleep(0.2)
    assert not waiting.done()
    holder.kill()  # dies holding the lock: the kernel lets go of it
    holder.wait()
    (await asyncio.wait_for(waiting, 2))()
    pacer.close()


async def test_stale_bookings_hold_nobody_up(tmp_path):
    path = tmp_path / "pace"
    old = AdvancingTime()
    old.t = 5_000.0
    crashed = crashed_pacer(path, old)
    for _ in range(200):  # books slots 7 s ahead (its clock stands still), then dies without sending
        await crashed.wait()
    assert old.t == 5_000.0

    later = AdvancingTime()  # the same boot, 10 s on: every booking has aged out
    later.t = 5_010.0
    assert await shared(path, later).wait() and later.t == 5_010.0

    rebooted = AdvancingTime()  # after a reboot the monotonic clock starts again near zero
    rebooted.t = 12.0
    pacer = HostPacer(
        30.0, path=path, address=ADDRESS, monotonic=rebooted.monotonic, sleep=rebooted.sleep, boot=lambda: 3_600.0
    )
    await crashed_pacer(path, old, rate=0.001).wait()  # the old boot's slot: 1,000 s ahead
    await pacer.wait()
    assert rebooted.t == 12.0  # another boot's moments are forgotten, not waited for


def test_the_file_is_private(tmp_path):
    pacer = HostPacer(30.0, path=tmp_path / "cache" / "pace", address=ADDRESS)
    assert stat.S_IMODE((tmp_path / "cache" / "pace").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700
    pacer.close()


def test_an_unusable_file_falls_back_to_this_process_with_one_warning(tmp_path, caplog):
    (tmp_path / "file").write_text("")
    with caplog.at_level(logging.WARNING, logger=host_pace.__name__):
        pacer = make_pacer(30.0, margin=0.08, address=ADDRESS, path=tmp_path / "file" / "pace")
    assert type(pacer) is RatePacer
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "this process only" in caplog.text


async def test_a_file_failing_mid_run_falls_back_with_one_warning(tmp_path, caplog, monkeypatch):
    pacer = HostPacer(30.0, path=tmp_path / "pace", address=ADDRESS)
    (await pacer.wait())()

    def refuse(fd, op):
        raise OSError(37, "No locks available")

    monkeypatch.setattr(host_pace.fcntl, "flock", refuse)
    with caplog.at_level(logging.WARNING, logger=host_pace.__name__):
        for _ in range(3):
            (await pacer.wait())()
    assert len(caplog.records) == 1 and "No locks available" in caplog.text
    started = time.monotonic()
    for _ in range(3):
        (await pacer.wait())()
    assert time.monotonic() - started >= 2 * pacer.interval - 0.01  # paced still, in memory
    pacer.close()


def test_the_address_is_the_api_host_and_port():
    assert address_of("https://api-metrika.yandex.net") == address_of("https://API-metrika.yandex.net:443/")
    assert address_of("http://127.0.0.1:8001") != address_of("http://127.0.0.1:8002")


@pytest.mark.slow
@pytest.mark.timeout(40)
def test_four_processes_together_keep_to_the_address_rate(tmp_path):
    """Four processes, each a real client sending as fast as its pacer lets, against the
    simulator with the real quotas: no 429 by address, and together close to 30 a second."""
    processes, each = 4, 50
    world = World.generate(seed=5, accounts=processes, counters_per_account=1)
    sim = Simulator(world, SimulatorConfig())
    pace_file = tmp_path / "cache" / "pace"
    with sim.serve_in_thread(host="127.0.0.1", port=0) as url:
        children = [
            subprocess.Popen(
                [sys.executable, str(CHILD), url, str(pace_file), str(each), str(account.counter_ids[0])],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for account in world.accounts
        ]
        try:
            for child, account in zip(children, world.accounts):
                child.stdin.write(account.token + "\n")
                child.stdin.flush()
            for child in children:
                assert child.stdout.readline().strip() == "ready"
            for child in children:  # all at once
                child.stdin.write("go\n")
                child.stdin.flush()
            results = [json.loads(child.stdout.readline()) for child in children]
        finally:
            for child in children:
                child.kill() if child.wait(20) is None else None
    stats = sim.stats.snapshot()
    took = max(r["last"] for r in results) - min(r["first"] for r in results)
    rate = processes * each / took
    assert stats["ok"] == processes * each
    assert stats["quota_rejections"] == {}, stats["quota_rejections"]  # no 429 by address, nor any other
    assert rate >= 24, f"{rate:.1f} requests/s"
    assert stats["peak_requests_per_second"] <= 30
    content = pace_file.read_bytes()
    assert all(account.token.encode() not in content for account in world.accounts)
    print(f"4 processes: {rate:.1f} requests/s together, retries {[r['retries'] for r in results]}")
