-- Plans as JSON documents, with the columns that filters, sorts, search and schedules need.
CREATE TABLE plans (
    id          TEXT PRIMARY KEY,
    owner_id    TEXT NOT NULL,
    title       TEXT NOT NULL,
    status      TEXT NOT NULL,
    start_date  TEXT NOT NULL,
    end_date    TEXT,
    recurring   INTEGER NOT NULL,
    -- Earliest and latest item dueAt (fixed-width RFC 3339), for schedule candidates.
    due_min     TEXT,
    due_max     TEXT,
    search      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX plans_owner_created ON plans (owner_id, created_at, id);
CREATE INDEX plans_owner_updated ON plans (owner_id, updated_at, id);
CREATE INDEX plans_owner_title ON plans (owner_id, title, id);
CREATE INDEX plans_owner_start ON plans (owner_id, start_date, id);

-- Idempotency-Key records: the first response for a key, replayed to retries.
CREATE TABLE plan_idempotency (
    owner_id     TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response     TEXT,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    PRIMARY KEY (owner_id, key)
);
