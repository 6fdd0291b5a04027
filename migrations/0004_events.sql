-- 0004: the event log behind GET /api/v1/events (WebSocket replay). See docs/schema.md and
-- docs/api.md ("Events").

-- Append-only. `seq` is AUTOINCREMENT so that a seq is never handed out twice, even after
-- retention has deleted every row: a reconnecting client's `since` always means the same thing.
-- Columns are typed rather than one JSON blob, so storage stays free of the wire format; which
-- columns an event uses depends on its type (docs/schema.md has the table).
CREATE TABLE event (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  time            INTEGER NOT NULL,  -- unix milliseconds
  type            TEXT    NOT NULL,  -- batch.enqueued, batch.state, batch.progress, ...
  batch           TEXT    NOT NULL,  -- public id of the batch it is about
  session_id      INTEGER,           -- session.* events
  name            TEXT,              -- the batch's name (batch lifecycle events)
  state_from      TEXT,              -- batch.state, session.state
  state_to        TEXT,              -- batch.* (the batch's state), session.state
  sessions        INTEGER,           -- the batch's session count
  n_uninitialized INTEGER,           -- the batch's counters (batch.* events)
  n_in_progress   INTEGER,
  n_completed     INTEGER,
  n_error         INTEGER,
  n_canceled      INTEGER,
  finished_at     INTEGER,           -- batch.state, batch.finished
  attempt         INTEGER,           -- session.state
  error_kind      TEXT,              -- session.state
  error_message   TEXT,
  retry_at        INTEGER,           -- session.state: requeued with a backoff
  rate            REAL,              -- batch.progress: sessions finished per second
  eta_s           REAL,              -- batch.progress: seconds left at that rate
  chunk_rate      REAL,              -- batch.progress: chunks per second (reported progress)
  byte_rate       REAL,              -- batch.progress: bytes per second (reported progress)
  suppressed      INTEGER,           -- batch.progress: session.state events not emitted so far
  chunks_done     INTEGER,           -- session.progress
  chunks_total    INTEGER,
  bytes_done      INTEGER,
  chunk_ranges    TEXT               -- session.progress: done chunks "0-99,120-127", or NULL
);
-- Replay of one batch's events (?batch=ID&since=SEQ).
CREATE INDEX event_by_batch ON event (batch, seq);

-- Batch lifecycle events are written by the database itself, in the transaction that changes
-- the batch's state: no write path can forget one, and none is ever written for a change that
-- rolls back. They fire only when `state` really changes (rare), never on counter updates.
-- 'now' is fixed for the duration of one statement, so every row of one change has one time.
CREATE TRIGGER event_batch_state AFTER UPDATE OF state ON batch
WHEN old.state IS NOT new.state
BEGIN
  INSERT INTO event (time, type, batch, name, state_from, state_to, sessions, n_uninitialized,
                     n_in_progress, n_completed, n_error, n_canceled, finished_at)
  VALUES (CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER),
          CASE WHEN old.state = 'enqueuing' THEN 'batch.enqueued' ELSE 'batch.state' END,
          new.public_id, new.name, old.state, new.state, new.session_count, new.n_uninitialized,
          new.n_in_progress, new.n_completed, new.n_error, new.n_canceled, new.finished_at);
  INSERT INTO event (time, type, batch, name, state_from, state_to, sessions, n_uninitialized,
                     n_in_progress, n_completed, n_error, n_canceled, finished_at)
  SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 'batch.finished',
         new.public_id, new.name, old.state, new.state, new.session_count, new.n_uninitialized,
         new.n_in_progress, new.n_completed, new.n_error, new.n_canceled, new.finished_at
  WHERE new.state IN ('completed', 'failed', 'canceled');
END;

-- A batch that was never announced (still enqueuing: its insert failed or a crash cut it off)
-- leaves without an event.
CREATE TRIGGER event_batch_deleted AFTER DELETE ON batch
WHEN old.state != 'enqueuing'
BEGIN
  INSERT INTO event (time, type, batch, name, state_from, sessions, n_uninitialized,
                     n_in_progress, n_completed, n_error, n_canceled, finished_at)
  VALUES (CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 'batch.deleted',
          old.public_id, old.name, old.state, old.session_count, old.n_uninitialized,
          old.n_in_progress, old.n_completed, old.n_error, old.n_canceled, old.finished_at);
END;
