-- 0001: batches, their sessions, and the id counter. See docs/schema.md.

-- Small persistent counters. next_session_id is handed out in contiguous ranges, one per batch,
-- so a batch's sessions are a rowid range and never need a secondary index to be listed.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('next_session_id', 1);

CREATE TABLE batch (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, even after a delete
  public_id        TEXT    NOT NULL UNIQUE,            -- what the API shows
  name             TEXT    NOT NULL,
  priority         INTEGER NOT NULL,
  runs             INTEGER NOT NULL,
  max_running      INTEGER,                            -- NULL: no per-batch limit
  max_attempts     INTEGER NOT NULL,
  spec             BLOB    NOT NULL,  -- the canonical batch JSON, zstd-compressed
  shape            TEXT    NOT NULL,  -- group lengths, comma-separated ("2,3,4"; "" for none)
  session_count    INTEGER NOT NULL,
  first_session_id INTEGER NOT NULL,  -- sessions own ids [first_session_id, +session_count)
  state            TEXT    NOT NULL,  -- enqueuing|queued|running|paused|completed|failed|canceled
  -- Sessions per state, changed in the same transaction as the sessions themselves, so status
  -- reads never COUNT(*). They always sum to the number of session rows of the batch.
  n_uninitialized  INTEGER NOT NULL DEFAULT 0,
  n_in_progress    INTEGER NOT NULL DEFAULT 0,
  n_completed      INTEGER NOT NULL DEFAULT 0,
  n_error          INTEGER NOT NULL DEFAULT 0,
  n_canceled       INTEGER NOT NULL DEFAULT 0,
  created_at       INTEGER NOT NULL,  -- unix milliseconds
  finished_at      INTEGER
);
CREATE INDEX batch_by_state ON batch (state, id);

-- One compact row per session: the batch index and values are derived from `ordinal`.
CREATE TABLE session (
  id       INTEGER PRIMARY KEY,         -- dequeue order
  batch_id INTEGER NOT NULL,
  ordinal  INTEGER NOT NULL,            -- position in (group product) x runs
  state    INTEGER NOT NULL DEFAULT 0,  -- 0 uninitialized, 1 in_progress, 2 completed, 3 error, 4 canceled
  attempts INTEGER NOT NULL DEFAULT 0
);
