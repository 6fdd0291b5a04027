-- 0002: execution. Session state created at dequeue, retry bookkeeping, pause flags.
-- See docs/schema.md and docs/scheduler.md.

-- Created when a session is first dequeued, never before. Kept across retries and restarts,
-- so a resumed session continues from its progress cursor.
CREATE TABLE session_state (
  session_id    INTEGER PRIMARY KEY,  -- session.id
  state         BLOB,                 -- zstd-compressed execution state JSON
  chunks_done   INTEGER NOT NULL DEFAULT 0,
  chunks_total  INTEGER NOT NULL DEFAULT 0,
  result        TEXT,                 -- JSON
  error_kind    TEXT,                 -- transient | permanent | canceled
  error_message TEXT,
  started_at    INTEGER,              -- unix ms of the latest start
  finished_at   INTEGER
);

-- A session put back in the queue after it ran (retry, backoff, crash recovery) carries the
-- time it may run again. Fresh sessions have NULL here, so the partial index below never sees
-- them and bulk inserts pay nothing for it.
ALTER TABLE session ADD COLUMN not_before INTEGER;
CREATE INDEX session_requeued ON session (batch_id, not_before, id)
  WHERE state = 0 AND not_before IS NOT NULL;

-- Fresh sessions are claimed in id order: everything below claim_cursor has been claimed once.
ALTER TABLE batch ADD COLUMN claim_cursor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE batch ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
CREATE INDEX batch_claim_order ON batch (priority DESC, id) WHERE state IN ('queued', 'running');

INSERT INTO meta (key, value) VALUES ('queue_paused', 0);
