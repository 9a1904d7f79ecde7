-- 0001: the quota ledger and the jobs table.
-- Times are ISO-8601 UTC text with microseconds ("2025-01-31T16:00:00.000000+00:00"):
-- fixed width, so text order is time order.

-- Append-only: rows are never updated or deleted; balances are computed from them.
CREATE TABLE ledger (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    platform       TEXT    NOT NULL,
    scope          TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,  -- '' on scope-wide rows (kind 'default')
    kind           TEXT    NOT NULL CHECK (kind IN
                       ('reserve', 'commit', 'refund', 'grant', 'set', 'reset', 'default')),
    amount         INTEGER NOT NULL,
    -- the quota window the row counts in (reserve, commit, refund, grant, reset);
    -- commit and refund copy it from their reservation
    window_start   TEXT,
    job_id         TEXT,
    reservation_id INTEGER REFERENCES ledger (id),  -- commit and refund: what they settle
    actor          TEXT,
    note           TEXT,
    at             TEXT    NOT NULL
);

-- Balance look-ups: one user's rows of one kind in a window.
CREATE INDEX ledger_by_user ON ledger (platform, scope, user_id, kind, window_start);

-- One reservation per job, and at most one settlement (commit XOR refund) per reservation.
CREATE UNIQUE INDEX ledger_one_reservation_per_job ON ledger (job_id) WHERE kind = 'reserve';
CREATE UNIQUE INDEX ledger_one_settlement ON ledger (reservation_id)
    WHERE reservation_id IS NOT NULL;

CREATE TABLE jobs (
    id                  TEXT    PRIMARY KEY,
    platform            TEXT    NOT NULL,
    scope               TEXT    NOT NULL,
    channel             TEXT    NOT NULL,
    thread              TEXT,
    user_id             TEXT    NOT NULL,
    user_name           TEXT    NOT NULL DEFAULT '',
    locale              TEXT,
    provider            TEXT    NOT NULL,
    format              TEXT    NOT NULL,
    model               TEXT    NOT NULL,
    seconds             INTEGER NOT NULL,
    orientation         TEXT    NOT NULL,
    prompt              TEXT    NOT NULL,
    image_path          TEXT,
    image_url           TEXT,
    parent_id           TEXT    REFERENCES jobs (id) ON DELETE SET NULL,
    upstream_id         TEXT,
    history             TEXT    NOT NULL DEFAULT '[]',  -- JSON [{"role", "content"}, ...]
    transcript          TEXT,
    state               TEXT    NOT NULL CHECK (state IN ('queued', 'submitting', 'running',
                            'downloading', 'uploading', 'delivered', 'failed')),
    status_message_id   TEXT,
    result_message_id   TEXT,
    reply_to_message_id TEXT,
    cost                INTEGER NOT NULL DEFAULT 0,
    unlimited           INTEGER NOT NULL DEFAULT 0,
    video_url           TEXT,
    error_category      TEXT,
    error_message       TEXT,
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    finished_at         TEXT
);

-- A reply to a bot message: which job posted it (status or result).
CREATE INDEX jobs_by_status_message ON jobs (platform, status_message_id)
    WHERE status_message_id IS NOT NULL;
CREATE INDEX jobs_by_result_message ON jobs (platform, result_message_id)
    WHERE result_message_id IS NOT NULL;
-- Restart recovery and the per-user in-flight limit.
CREATE INDEX jobs_by_state ON jobs (state, created_at);
CREATE INDEX jobs_by_user_state ON jobs (platform, user_id, state);
