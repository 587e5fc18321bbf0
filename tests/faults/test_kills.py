"""SIGKILL at random moments of a pass, again and again: a `sync` or a `--headless` daemon is
started, killed with no chance to clean up (mid-claim, mid-fetch, mid-write, or idle), and
another is started in its place. Leases are the default 30 s, but the next process finds the
killed one's pid gone and takes its jobs back at once. When a pass is done the next one is
queued; after the last kill a sync finishes the pass. Then every pass must have synced every
counter exactly once, with the world's figures."""

from __future__ import annotations

import random
import subprocess
import time
from dataclasses import dataclass

import pytest

from metrika_tui.simulator import LatencyConfig, QuotaConfig, SimulatorConfig, World

from .conftest import soak
from .harness import Rig, leases_held_by, live_jobs, report, rig

KILLS = soak(20, 200)


@dataclass
class KillLog:
    kills: int = 0
    holding: int = 0  # kills of a process that held at least one lease at that moment
    leases: int = 0  # leases those kills left behind
    exits: int = 0  # processes that ended on their own (a sync that finished the pass)


def work_pass_under_kills(r: Rig, rng: random.Random, log: KillLog) -> None:
    """Until no job is live: start a sync or a daemon, SIGKILL it at a random moment; once
    enough kills were made, a last sync finishes the pass."""
    while live_jobs(r.db):
        if log.kills >= KILLS:
            proc = r.procs.start("sync")
        else:
            proc = r.procs.start(*rng.choice((["sync"], ["--headless"])))
        try:
            code, out, err = proc.finish(60 if log.kills >= KILLS else rng.uniform(0.1, 1.6))
        except subprocess.TimeoutExpired:
            held = leases_held_by(r.db, proc.pid)
            proc.kill()
            log.kills += 1
            log.holding += held > 0
            log.leases += held
            continue
        assert code == 0, out + err
        log.exits += 1


@pytest.mark.slow
@pytest.mark.timeout(soak(170, 3600))
def test_sigkill_at_random_moments_loses_nothing_and_doubles_nothing(tmp_path, make_env, rng):
    world = World.generate(seed=31, accounts=4, counters_per_account=soak(6, 25))
    latency = LatencyConfig(kind="lognormal", median_ms=120.0, sigma=0.5, max_ms=800.0)
    # the same jobs are killed with their worker again and again: past the cap of 5 they would fail
    env = {"METRIKA_MAX_LOST": "1000"}
    started = time.monotonic()
    # a restarted process forgets the report budget it spent; across 200 restarts the server's
    # 200-per-5-minutes window would run out and defer the pass (right, but another test's subject)
    quotas = QuotaConfig(reports_per_window=None)
    config = SimulatorConfig(latency=latency, quotas=quotas, seed=rng.randrange(2**32))
    with rig(tmp_path, make_env, world, config, **env) as r:
        log, passes = KillLog(), 0
        while log.kills < KILLS:
            queued = r.procs.run("sync", "--force", "--no-wait")
            assert queued.returncode == 0, queued.stderr
            passes += 1
            work_pass_under_kills(r, rng, log)
        figures = r.check(passes=passes)
        outputs = [path.read_text(errors="replace") for path in tmp_path.glob("proc*.*")]
    assert not [text for text in outputs if "Traceback" in text]
    assert log.holding >= KILLS // 4, log  # most kills hit a process at work, not one starting up
    assert figures.lost >= log.holding  # each job a kill took was taken back and claimed again
    assert figures.attempts == 0  # and none of that counted as a failed try
    report(
        "kills",
        kills=log.kills,
        kills_holding_leases=log.holding,
        leases_left_by_kills=log.leases,
        syncs_that_finished=log.exits,
        passes=passes,
        counters=figures.counters,
        done_jobs=figures.done_jobs,
        leases_taken_back=figures.lost,
        processes=r.procs.started,
        seconds=round(time.monotonic() - started, 1),
    )
