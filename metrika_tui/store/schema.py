"""The database schema, as numbered migrations run on open: SQLite's (`MIGRATIONS`, the
version in PRAGMA user_version) and PostgreSQL's (`PG_MIGRATIONS`, the version in the
`schema_version` table), numbered alike: version N is the same schema on both.

Append a migration to change the schema (to both lists); never edit one that has shipped.
A database from a newer metrika-tui (a higher version) is refused, not guessed at.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE accounts (
        id             INTEGER PRIMARY KEY,
        user_id        TEXT NOT NULL,
        login          TEXT NOT NULL,
        token          TEXT NOT NULL UNIQUE,
        revoked        INTEGER NOT NULL DEFAULT 0,
        revoked_reason TEXT,
        created_at     REAL NOT NULL
    );
    CREATE TABLE counters (
        id               INTEGER PRIMARY KEY,          -- the Metrika counter id
        account_id       INTEGER NOT NULL REFERENCES accounts(id),
        name             TEXT NOT NULL,
        site             TEXT NOT NULL,
        time_zone        TEXT NOT NULL,
        active           INTEGER NOT NULL DEFAULT 1,
        last_fetched_at  REAL,                          -- last fully successful sync
        last_fetched_day TEXT,                          -- newest day it covered (counter's zone)
        last_attempt_at  REAL,
        last_error       TEXT,                          -- set when the last attempt failed
        created_at       REAL NOT NULL
    );
    CREATE INDEX counters_by_account ON counters(account_id);
    CREATE TABLE jobs (
        id               INTEGER PRIMARY KEY,
        counter_id       INTEGER NOT NULL REFERENCES counters(id),
        account_id       INTEGER NOT NULL REFERENCES accounts(id),
        status           TEXT NOT NULL,                 -- queued running done failed cancelled
        priority         INTEGER NOT NULL DEFAULT 0,
        attempts         INTEGER NOT NULL DEFAULT 0,    -- failed tries (quota waits do not count)
        run_after        REAL NOT NULL,
        lease_owner      TEXT,
        lease_expires_at REAL,
        last_error       TEXT,
        trigger          TEXT NOT NULL,
        created_at       REAL NOT NULL,
        started_at       REAL,
        finished_at      REAL,
        rows             INTEGER
    );
    -- one live job per counter: planning twice or forcing a queued counter makes no duplicate
    CREATE UNIQUE INDEX jobs_one_live_per_counter ON jobs(counter_id) WHERE status IN ('queued', 'running');
    CREATE INDEX jobs_claimable ON jobs(status, priority DESC, run_after) WHERE status IN ('queued', 'running');
    CREATE INDEX jobs_running_by_account ON jobs(account_id, status);
    CREATE INDEX jobs_by_counter ON jobs(counter_id, id);
    CREATE TABLE daily_stats (
        counter_id         INTEGER NOT NULL,
        date               TEXT NOT NULL,
        visits             INTEGER NOT NULL,
        users              INTEGER NOT NULL,
        pageviews          INTEGER NOT NULL,
        bounce_rate        REAL NOT NULL,
        avg_visit_duration REAL NOT NULL,
        fetched_at         REAL NOT NULL,
        PRIMARY KEY (counter_id, date)
    ) WITHOUT ROWID;
    CREATE TABLE monthly_stats (
        counter_id         INTEGER NOT NULL,
        month              TEXT NOT NULL,               -- first day of the month
        visits             INTEGER NOT NULL,
        users              INTEGER NOT NULL,            -- from the API at month grain
        pageviews          INTEGER NOT NULL,
        bounce_rate        REAL NOT NULL,               -- visit-weighted
        avg_visit_duration REAL NOT NULL,               -- visit-weighted
        days               INTEGER NOT NULL,
        updated_at         REAL NOT NULL,
        PRIMARY KEY (counter_id, month)
    ) WITHOUT ROWID;
    CREATE TABLE raw_answers (
        id         INTEGER PRIMARY KEY,
        counter_id INTEGER NOT NULL,
        job_id     INTEGER,
        kind       TEXT NOT NULL,
        fetched_at REAL NOT NULL,
        body       TEXT NOT NULL
    );
    CREATE INDEX raw_by_counter ON raw_answers(counter_id, id);
    CREATE TABLE sync_runs (
        id          INTEGER PRIMARY KEY,
        trigger     TEXT NOT NULL,
        origin      TEXT NOT NULL,
        started_at  REAL NOT NULL,
        finished_at REAL,
        queued      INTEGER NOT NULL,
        skipped     INTEGER NOT NULL,
        failed      INTEGER
    );
    CREATE TABLE schedule_slots (
        schedule   TEXT NOT NULL,
        slot       TEXT NOT NULL,
        planned_at REAL NOT NULL,
        origin     TEXT NOT NULL,
        PRIMARY KEY (schedule, slot)
    ) WITHOUT ROWID;
    CREATE TABLE events (
        id         INTEGER PRIMARY KEY,
        ts         REAL NOT NULL,
        kind       TEXT NOT NULL,
        level      TEXT NOT NULL,
        message    TEXT NOT NULL,
        account_id INTEGER,
        counter_id INTEGER,
        job_id     INTEGER,
        origin     TEXT NOT NULL,
        data       TEXT
    );
    """,
    # 2: finished jobs are pruned by age
    """
    CREATE INDEX jobs_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL;
    """,
    # 3: Metrika's quotas belong to the Yandex login: each login's requests of the day, a job's
    # login, cost and deferrals; the moment a sync was planned for (the schedule's due rule)
    """
    ALTER TABLE accounts ADD COLUMN quota_login TEXT NOT NULL DEFAULT '';
    UPDATE accounts SET quota_login = CASE WHEN login IN ('', 'unknown') THEN 'account:' || id
                                           ELSE lower(replace(login, '.', '-')) END;
    ALTER TABLE jobs ADD COLUMN login TEXT NOT NULL DEFAULT '';          -- its account's quota_login
    UPDATE jobs SET login = COALESCE((SELECT quota_login FROM accounts a WHERE a.id = jobs.account_id), '');
    ALTER TABLE jobs ADD COLUMN cost INTEGER NOT NULL DEFAULT 1;         -- report requests it will make
    ALTER TABLE jobs ADD COLUMN planned_for REAL;                        -- its slot, or when it was asked for
    UPDATE jobs SET planned_for = created_at;
    ALTER TABLE jobs ADD COLUMN deferrals INTEGER NOT NULL DEFAULT 0;    -- quota answers of unknown reset
    ALTER TABLE counters ADD COLUMN synced_for REAL;                     -- planned_for of its last success
    UPDATE counters SET synced_for = last_fetched_at;
    CREATE INDEX jobs_running_by_login ON jobs(login, status);
    CREATE TABLE quota_days (
        login         TEXT NOT NULL,                -- an accounts.quota_login
        day           TEXT NOT NULL,                -- UTC: the daily quota resets at 00:00 UTC
        requests      INTEGER NOT NULL DEFAULT 0,   -- sent, refused ones too, by every process
        spent_until   REAL,                         -- the server said the day's quota is spent
        spent_message TEXT,
        paced_until   REAL,                         -- when its last paced refresh was planned to run
        PRIMARY KEY (login, day)
    ) WITHOUT ROWID;
    """,
    # 4 (issue 16): who a token belongs to (login.yandex.ru/info), and its lifecycle. The
    # refresh token is as secret as the token; one Yandex user is one account
    """
    ALTER TABLE accounts ADD COLUMN uid TEXT;                 -- the Yandex user id
    ALTER TABLE accounts ADD COLUMN refresh_token TEXT;
    ALTER TABLE accounts ADD COLUMN token_expires_at REAL;    -- NULL: not known (a pasted token)
    ALTER TABLE accounts ADD COLUMN login_needed TEXT;        -- why it must log in again, if it must
    ALTER TABLE accounts ADD COLUMN refresh_lease_until REAL; -- one process refreshes at a time
    CREATE UNIQUE INDEX accounts_by_uid ON accounts(uid) WHERE uid IS NOT NULL;
    """,
    # 5 (issue 12): a counter visible to several accounts (delegated access) belongs to all of
    # them; counters.account_id is the one it is synced through (see Store.rehome_counters)
    """
    CREATE TABLE counter_access (
        counter_id INTEGER NOT NULL REFERENCES counters(id),
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        found_at   REAL NOT NULL,                      -- first seen by this account: the earliest is preferred
        PRIMARY KEY (counter_id, account_id)
    ) WITHOUT ROWID;
    CREATE INDEX counter_access_by_account ON counter_access(account_id, counter_id);
    INSERT INTO counter_access (counter_id, account_id, found_at) SELECT id, account_id, created_at FROM counters;
    -- the API's offset (minutes): the counter's zone where this machine does not know its name
    ALTER TABLE counters ADD COLUMN time_zone_offset INTEGER;
    -- the last fetch's share of visits when its figures were sampled (NULL: exact)
    ALTER TABLE counters ADD COLUMN sample_share REAL;
    ALTER TABLE daily_stats ADD COLUMN sampled INTEGER NOT NULL DEFAULT 0;
    -- 'zlib': the body is the answer's JSON, compressed
    ALTER TABLE raw_answers ADD COLUMN encoding TEXT NOT NULL DEFAULT 'json';
    """,
    # 6 (issue 17): a month is sampled when one of its days is (`export` shows it); months
    # already stored say so from their days
    """
    ALTER TABLE monthly_stats ADD COLUMN sampled INTEGER NOT NULL DEFAULT 0;
    UPDATE monthly_stats SET sampled = 1 WHERE EXISTS (SELECT 1 FROM daily_stats d
        WHERE d.counter_id = monthly_stats.counter_id AND d.sampled != 0
          AND d.date >= monthly_stats.month AND d.date < date(monthly_stats.month, '+1 month'));
    """,
    # 7 (issue 13): a lease names its holder (a dead one on this host is found at once) and its
    # heartbeat; a lease lost with a dead worker counts apart from failed tries; a job knows its run
    """
    ALTER TABLE jobs ADD COLUMN owner_host_id TEXT;     -- the holder's host id (processes.host_id)
    ALTER TABLE jobs ADD COLUMN owner_pid INTEGER;
    ALTER TABLE jobs ADD COLUMN owner_started REAL;     -- its start time: a reused pid differs
    ALTER TABLE jobs ADD COLUMN heartbeat_at REAL;      -- the lease's last renewal
    ALTER TABLE jobs ADD COLUMN lost INTEGER NOT NULL DEFAULT 0;  -- leases lost with a dead worker
    ALTER TABLE jobs ADD COLUMN run_id INTEGER;         -- the sync_runs row that queued it
    ALTER TABLE sync_runs ADD COLUMN synced INTEGER;
    CREATE INDEX jobs_by_run ON jobs(run_id, status) WHERE run_id IS NOT NULL;
    CREATE INDEX sync_runs_open ON sync_runs(id) WHERE finished_at IS NULL;
    """,
    # 8 (issue 15): a running job's numbered slot of its login's 3 (PostgreSQL claims take one under
    # a unique index; SQLite's write lock serialises claims, so the column is only kept in step)
    """
    ALTER TABLE jobs ADD COLUMN login_slot INTEGER;
    """,
)

# PostgreSQL: the same tables. Ids are BIGINT (counters' are Metrika's), moments DOUBLE
# PRECISION epoch seconds, flags whole numbers, days and months ISO text, as in SQLite, so the
# store's SQL reads the same on both.
PG_MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE accounts (
        id             BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        user_id        TEXT NOT NULL,
        login          TEXT NOT NULL,
        token          TEXT NOT NULL UNIQUE,
        revoked        INTEGER NOT NULL DEFAULT 0,
        revoked_reason TEXT,
        created_at     DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE counters (
        id               BIGINT PRIMARY KEY,
        account_id       BIGINT NOT NULL REFERENCES accounts(id),
        name             TEXT NOT NULL,
        site             TEXT NOT NULL,
        time_zone        TEXT NOT NULL,
        active           INTEGER NOT NULL DEFAULT 1,
        last_fetched_at  DOUBLE PRECISION,
        last_fetched_day TEXT,
        last_attempt_at  DOUBLE PRECISION,
        last_error       TEXT,
        created_at       DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX counters_by_account ON counters(account_id);
    CREATE TABLE jobs (
        id               BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        counter_id       BIGINT NOT NULL REFERENCES counters(id),
        account_id       BIGINT NOT NULL REFERENCES accounts(id),
        status           TEXT NOT NULL,
        priority         INTEGER NOT NULL DEFAULT 0,
        attempts         INTEGER NOT NULL DEFAULT 0,
        run_after        DOUBLE PRECISION NOT NULL,
        lease_owner      TEXT,
        lease_expires_at DOUBLE PRECISION,
        last_error       TEXT,
        trigger          TEXT NOT NULL,
        created_at       DOUBLE PRECISION NOT NULL,
        started_at       DOUBLE PRECISION,
        finished_at      DOUBLE PRECISION,
        rows             INTEGER
    );
    CREATE UNIQUE INDEX jobs_one_live_per_counter ON jobs(counter_id) WHERE status IN ('queued', 'running');
    CREATE INDEX jobs_claimable ON jobs(status, priority DESC, run_after) WHERE status IN ('queued', 'running');
    CREATE INDEX jobs_running_by_account ON jobs(account_id, status);
    CREATE INDEX jobs_by_counter ON jobs(counter_id, id);
    CREATE TABLE daily_stats (
        counter_id         BIGINT NOT NULL,
        date               TEXT NOT NULL,
        visits             BIGINT NOT NULL,
        users              BIGINT NOT NULL,
        pageviews          BIGINT NOT NULL,
        bounce_rate        DOUBLE PRECISION NOT NULL,
        avg_visit_duration DOUBLE PRECISION NOT NULL,
        fetched_at         DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (counter_id, date)
    );
    CREATE TABLE monthly_stats (
        counter_id         BIGINT NOT NULL,
        month              TEXT NOT NULL,
        visits             BIGINT NOT NULL,
        users              BIGINT NOT NULL,
        pageviews          BIGINT NOT NULL,
        bounce_rate        DOUBLE PRECISION NOT NULL,
        avg_visit_duration DOUBLE PRECISION NOT NULL,
        days               INTEGER NOT NULL,
        updated_at         DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (counter_id, month)
    );
    CREATE TABLE raw_answers (
        id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        counter_id BIGINT NOT NULL,
        job_id     BIGINT,
        kind       TEXT NOT NULL,
        fetched_at DOUBLE PRECISION NOT NULL,
        body       BYTEA NOT NULL
    );
    CREATE INDEX raw_by_counter ON raw_answers(counter_id, id);
    CREATE TABLE sync_runs (
        id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        trigger     TEXT NOT NULL,
        origin      TEXT NOT NULL,
        started_at  DOUBLE PRECISION NOT NULL,
        finished_at DOUBLE PRECISION,
        queued      INTEGER NOT NULL,
        skipped     INTEGER NOT NULL,
        failed      INTEGER
    );
    CREATE TABLE schedule_slots (
        schedule   TEXT NOT NULL,
        slot       TEXT NOT NULL,
        planned_at DOUBLE PRECISION NOT NULL,
        origin     TEXT NOT NULL,
        PRIMARY KEY (schedule, slot)
    );
    CREATE TABLE events (
        id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        ts         DOUBLE PRECISION NOT NULL,
        kind       TEXT NOT NULL,
        level      TEXT NOT NULL,
        message    TEXT NOT NULL,
        account_id BIGINT,
        counter_id BIGINT,
        job_id     BIGINT,
        origin     TEXT NOT NULL,
        data       TEXT
    );
    """,
    # 2: finished jobs are pruned by age
    """
    CREATE INDEX jobs_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL;
    """,
    # 3: quotas by Yandex login
    """
    ALTER TABLE accounts ADD COLUMN quota_login TEXT NOT NULL DEFAULT '';
    UPDATE accounts SET quota_login = CASE WHEN login IN ('', 'unknown') THEN 'account:' || id
                                           ELSE lower(replace(login, '.', '-')) END;
    ALTER TABLE jobs ADD COLUMN login TEXT NOT NULL DEFAULT '';
    UPDATE jobs SET login = COALESCE((SELECT quota_login FROM accounts a WHERE a.id = jobs.account_id), '');
    ALTER TABLE jobs ADD COLUMN cost INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE jobs ADD COLUMN planned_for DOUBLE PRECISION;
    UPDATE jobs SET planned_for = created_at;
    ALTER TABLE jobs ADD COLUMN deferrals INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE counters ADD COLUMN synced_for DOUBLE PRECISION;
    UPDATE counters SET synced_for = last_fetched_at;
    CREATE INDEX jobs_running_by_login ON jobs(login, status);
    CREATE TABLE quota_days (
        login         TEXT NOT NULL,
        day           TEXT NOT NULL,
        requests      INTEGER NOT NULL DEFAULT 0,
        spent_until   DOUBLE PRECISION,
        spent_message TEXT,
        paced_until   DOUBLE PRECISION,
        PRIMARY KEY (login, day)
    );
    """,
    # 4 (issue 16): a token's owner and lifecycle
    """
    ALTER TABLE accounts ADD COLUMN uid TEXT;
    ALTER TABLE accounts ADD COLUMN refresh_token TEXT;
    ALTER TABLE accounts ADD COLUMN token_expires_at DOUBLE PRECISION;
    ALTER TABLE accounts ADD COLUMN login_needed TEXT;
    ALTER TABLE accounts ADD COLUMN refresh_lease_until DOUBLE PRECISION;
    CREATE UNIQUE INDEX accounts_by_uid ON accounts(uid) WHERE uid IS NOT NULL;
    """,
    # 5 (issue 12): counters shared by several accounts; zone offsets; sampling; compressed answers
    """
    CREATE TABLE counter_access (
        counter_id BIGINT NOT NULL REFERENCES counters(id),
        account_id BIGINT NOT NULL REFERENCES accounts(id),
        found_at   DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (counter_id, account_id)
    );
    CREATE INDEX counter_access_by_account ON counter_access(account_id, counter_id);
    INSERT INTO counter_access (counter_id, account_id, found_at) SELECT id, account_id, created_at FROM counters;
    ALTER TABLE counters ADD COLUMN time_zone_offset INTEGER;
    ALTER TABLE counters ADD COLUMN sample_share DOUBLE PRECISION;
    ALTER TABLE daily_stats ADD COLUMN sampled INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE raw_answers ADD COLUMN encoding TEXT NOT NULL DEFAULT 'json';
    """,
    # 6 (issue 17): a month is sampled when one of its days is
    """
    ALTER TABLE monthly_stats ADD COLUMN sampled INTEGER NOT NULL DEFAULT 0;
    UPDATE monthly_stats SET sampled = 1 WHERE EXISTS (SELECT 1 FROM daily_stats d
        WHERE d.counter_id = monthly_stats.counter_id AND d.sampled != 0 AND d.date >= monthly_stats.month
          AND d.date < to_char(CAST(monthly_stats.month AS date) + interval '1 month', 'YYYY-MM-DD'));
    """,
    # 7 (issue 13): a lease names its holder and its heartbeat; lost leases; a job's run
    """
    ALTER TABLE jobs ADD COLUMN owner_host_id TEXT;
    ALTER TABLE jobs ADD COLUMN owner_pid INTEGER;
    ALTER TABLE jobs ADD COLUMN owner_started DOUBLE PRECISION;
    ALTER TABLE jobs ADD COLUMN heartbeat_at DOUBLE PRECISION;
    ALTER TABLE jobs ADD COLUMN lost INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN run_id BIGINT;
    ALTER TABLE sync_runs ADD COLUMN synced INTEGER;
    CREATE INDEX jobs_by_run ON jobs(run_id, status) WHERE run_id IS NOT NULL;
    CREATE INDEX sync_runs_open ON sync_runs(id) WHERE finished_at IS NULL;
    """,
    # 8 (issue 15): several hosts on one database.
    # At most 3 running jobs per login across every host, race-free: a claim takes a numbered
    # slot (1..3) of its login, and two running jobs of a login never hold the same one. Queued
    # jobs are walked in claim order along their own index.
    # Each login's report budget (200 per 5 minutes), shared by every host: one row a login, its
    # bookings' moments (epoch seconds), changed in one statement by a booking. The functions
    # are pure: the new bookings, and a booking moved to when its request really left.
    """
    ALTER TABLE jobs ADD COLUMN login_slot INTEGER;
    CREATE UNIQUE INDEX jobs_login_slot ON jobs(login, login_slot) WHERE status = 'running';
    CREATE INDEX jobs_queued_in_order ON jobs(priority DESC, run_after, id) WHERE status = 'queued';
    CREATE TABLE report_windows (
        login  TEXT PRIMARY KEY,
        grants DOUBLE PRECISION[] NOT NULL
    );
    -- the bookings after booking `need` more at the first moment from `now` that keeps at most
    -- `budget` in any `span` (limits.ReportBudget's rule); the new ones last, at that moment
    CREATE FUNCTION metrika_report_booking(grants DOUBLE PRECISION[], now DOUBLE PRECISION,
                                           span DOUBLE PRECISION, budget INTEGER, need INTEGER)
    RETURNS DOUBLE PRECISION[] LANGUAGE sql IMMUTABLE AS $$
        WITH live AS (
            SELECT g, row_number() OVER (ORDER BY g) AS i FROM unnest(grants) AS g WHERE g > now - span
        ), room AS (
            SELECT GREATEST(COUNT(*) + need - budget, 0) AS excess FROM live
        ), booked AS (  -- the oldest `excess` must leave the window first; they are gone by then
            SELECT excess, CASE WHEN excess = 0 THEN now
                                ELSE GREATEST(now, (SELECT g FROM live WHERE i = excess) + span) END AS moment
              FROM room
        )
        SELECT ARRAY(SELECT g FROM live WHERE i > booked.excess ORDER BY g) || array_fill(booked.moment, ARRAY[need])
          FROM booked
    $$;
    -- the bookings with one booked for `booked` counted from `now` instead (gone already: added)
    CREATE FUNCTION metrika_report_moved(grants DOUBLE PRECISION[], booked DOUBLE PRECISION, now DOUBLE PRECISION)
    RETURNS DOUBLE PRECISION[] LANGUAGE sql IMMUTABLE AS $$
        SELECT CASE WHEN p IS NULL THEN grants
                    ELSE grants[1 : p - 1] || grants[p + 1 : cardinality(grants)] END || ARRAY[now]
          FROM (SELECT array_position(grants, booked) AS p) AS found
    $$;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
assert len(PG_MIGRATIONS) == SCHEMA_VERSION, "every migration is written for both databases"
