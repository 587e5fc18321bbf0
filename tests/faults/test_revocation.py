"""A token revoked in the middle of a pass: its account stops (its running jobs meet the dead
token once each, its queued jobs are cancelled, its counters show revoked), and every other
account finishes the pass as if nothing happened."""

from __future__ import annotations

import pytest

from metrika_tui.simulator import LatencyConfig, SimulatorConfig, World

from .harness import peek, report, rig, wait_for


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_token_revoked_mid_pass_stops_its_account_only(tmp_path, make_env):
    world = World.generate(seed=61, accounts=3, counters_per_account=9)
    victim = world.accounts[1]
    marks = ",".join("?" * len(victim.counter_ids))

    def victim_jobs(status: str) -> int:
        sql = f"SELECT COUNT(*) FROM jobs WHERE status = ? AND counter_id IN ({marks})"
        return peek(r.db, sql, (status, *victim.counter_ids))[0][0]

    slow = SimulatorConfig(latency=LatencyConfig(kind="fixed", median_ms=200.0))
    with rig(tmp_path, make_env, world, slow, METRIKA_WORKERS="9") as r:
        sync = r.procs.start("sync")
        wait_for(lambda: victim_jobs("done") >= 1, 30, "the victim's first counter synced")
        r.sim.revoke(victim.token)
        code, out, err = sync.finish(60)
        assert code == 1, out + err  # its counters could not be synced: said, and the exit says so
        assert "account revoked" in out and victim.token not in out + err
        states = r.procs.states()
        assert {states[c] for c in victim.counter_ids} == {"revoked"}
        assert {s for c, s in states.items() if c not in victim.counter_ids} == {"ok"}
        figures = r.check(revoked={victim.token})
        done, cancelled = victim_jobs("done"), victim_jobs("cancelled")
    refusals = r.sim.stats.snapshot()["errors"].get("invalid_token", 0)
    assert 1 <= done < len(victim.counter_ids) and done + cancelled == len(victim.counter_ids)
    assert 1 <= refusals <= 3  # only the jobs running at that moment asked again
    report(
        "revoked mid-pass",
        counters=figures.counters,
        victim_synced_before=done,
        victim_cancelled=cancelled,
        refusals=refusals,
        others_ok=figures.counters - figures.revoked_counters,
    )
