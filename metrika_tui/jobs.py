"""The job vocabulary: a job's status in the queue, what asked for it, how a run of it ended,
and what a pass made of each counter. A leaf module: the store, the engine and the commands
all speak it, and it imports nothing of the product.

The values are the words stored in the database (`jobs.status`, `jobs.trigger`) and shown in
JSON and metrics, so they never change. SQL that filters on a status keeps the word in its
text (`status IN ('queued', 'running')`): SQLite uses a partial index only when the query
repeats its WHERE word for word; `tests/test_job_words.py` checks every such word is one of these.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """A job's row in the queue (`jobs.status`)."""

    QUEUED = "queued"  # waiting for a worker (or for its `run_after`)
    RUNNING = "running"  # a worker holds its lease
    DONE = "done"
    FAILED = "failed"  # given up; the error is kept
    CANCELLED = "cancelled"  # its account was revoked or its counter disabled


#: a counter's live job is one of these (at most one per counter)
LIVE = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})


class Trigger(StrEnum):
    """What asked for a job (`jobs.trigger`, `sync_runs.trigger`)."""

    SCHEDULE = "schedule"  # a slot of the scheduler
    STARTUP = "startup"  # the console or the daemon starting
    MANUAL = "manual"  # asked for in the console
    FORCE = "force"  # a force-sync of one counter
    SYNC = "sync"  # the `sync` command
    ONCE = "once"  # `--headless --once`
    RETRY = "retry"  # failed counters queued again


class Settled(StrEnum):
    """How one run of a job ended (a worker's `JobResult.status`)."""

    DONE = "done"
    QUEUED = "queued"  # back in the queue: a retry after a transient error, or a quota's wait
    FAILED = "failed"
    REVOKED = "revoked"  # the token is dead: its account was revoked
    LOST = "lost"  # the lease was gone before the result was written: nothing of it counts


class Outcome(StrEnum):
    """What one pass made of a counter it planned (`engine.passes.PassReport`)."""

    SYNCED = "synced"  # its job succeeded during the pass
    FAILED = "failed"  # its job gave up, or it was not synced for another reason
    REVOKED = "revoked"  # its account's token was rejected
    STILL_QUEUED = "still_queued"  # its job waits on: beyond the pass's wait, stopped, or not waited for
    IN_SYNC = "in_sync"  # not queued: synced recently
    LEFT_FOR_LATER = "left_for_later"  # not queued: its login's quota for the day


#: the outcomes of counters the pass queued (or found queued) and waited for
WAITED_FOR = frozenset({Outcome.SYNCED, Outcome.FAILED, Outcome.REVOKED, Outcome.STILL_QUEUED})
