-- PostgreSQL 0001: the whole schema of the scale-out store (storage/pg/, docs/scale-out.md).
-- The tables mirror the SQLite ones (migrations/0001..0005, docs/schema.md) column for column,
-- plus what many nodes on one database need: the node table, the node a session in progress
-- belongs to, and an event log whose order is fixed after commit by one sequencer.

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('next_session_id', 1), ('queue_paused', 0);

CREATE TABLE batch (
  id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- never reused
  public_id        TEXT    NOT NULL UNIQUE,
  name             TEXT    NOT NULL,
  priority         BIGINT  NOT NULL,
  runs             BIGINT  NOT NULL,
  max_running      BIGINT,            -- NULL: no per-batch limit
  max_attempts     BIGINT  NOT NULL,
  spec             BYTEA   NOT NULL,  -- the canonical batch JSON, zstd-compressed
  shape            TEXT    NOT NULL,  -- group lengths, comma-separated
  session_count    BIGINT  NOT NULL,
  first_session_id BIGINT  NOT NULL,  -- sessions own ids [first_session_id, +session_count)
  state            TEXT    NOT NULL,  -- enqueuing|queued|running|paused|completed|failed|canceled
  -- Sessions per state, changed in the transaction that changes the sessions. A claim updates
  -- n_in_progress while it holds the batch row, which is what makes max_running exact across
  -- nodes: two nodes never claim from one batch at once.
  n_uninitialized  BIGINT  NOT NULL DEFAULT 0,
  n_in_progress    BIGINT  NOT NULL DEFAULT 0,
  n_completed      BIGINT  NOT NULL DEFAULT 0,
  n_error          BIGINT  NOT NULL DEFAULT 0,
  n_canceled       BIGINT  NOT NULL DEFAULT 0,
  created_at       BIGINT  NOT NULL,  -- unix milliseconds
  finished_at      BIGINT,
  claim_cursor     BIGINT  NOT NULL DEFAULT 0,  -- fresh sessions below it were claimed once
  paused           INTEGER NOT NULL DEFAULT 0,
  result           TEXT,              -- the completed sessions' results folded (JSON)
  -- The node inserting it while it is enqueuing: a half-inserted batch is removed only when
  -- that node is dead (rescue), never while it may still be inserting.
  inserted_by      BIGINT
);
CREATE INDEX batch_by_state ON batch (state, id);
CREATE INDEX batch_claim_order ON batch (priority DESC, id) WHERE state IN ('queued', 'running');

-- A daemon attached to this database. A node row is never reused: a daemon that starts again
-- registers a new row (and rescues its predecessor's sessions at once, by name).
CREATE TABLE node (
  id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name          TEXT    NOT NULL,  -- --node-name, default host:port
  host          TEXT    NOT NULL,
  listen        TEXT    NOT NULL,  -- the address its API listens on
  started_at    BIGINT  NOT NULL,
  slots         INTEGER NOT NULL,  -- sessions it runs at once at most
  heartbeat_at  BIGINT  NOT NULL,  -- the node's own clock, unix ms, every heartbeat interval
  state         TEXT    NOT NULL DEFAULT 'alive',  -- alive | dead | stopped
  ended_at      BIGINT,
  rescued_by    BIGINT,            -- the node that requeued its sessions
  rescued       BIGINT             -- how many sessions it requeued
);
CREATE INDEX node_alive ON node (heartbeat_at) WHERE state = 'alive';

CREATE TABLE session (
  id            BIGINT   PRIMARY KEY,       -- dequeue order
  batch_id      BIGINT   NOT NULL,
  ordinal       BIGINT   NOT NULL,          -- position in (group product) x runs
  state         SMALLINT NOT NULL DEFAULT 0,  -- 0 uninitialized, 1 in_progress, 2 completed, 3 error, 4 canceled
  attempts      INTEGER  NOT NULL DEFAULT 0,
  not_before    BIGINT,                     -- set when requeued after it ran
  fatal_crashes INTEGER  NOT NULL DEFAULT 0,
  node_id       BIGINT                      -- the node running it (state 1); outcomes need it
);
CREATE INDEX session_requeued ON session (batch_id, not_before, id)
  WHERE state = 0 AND not_before IS NOT NULL;
CREATE INDEX session_by_node ON session (node_id) WHERE state = 1;

CREATE TABLE session_state (
  session_id    BIGINT PRIMARY KEY,
  state         BYTEA,   -- zstd-compressed execution state JSON
  chunks_done   BIGINT NOT NULL DEFAULT 0,
  chunks_total  BIGINT NOT NULL DEFAULT 0,
  result        TEXT,
  error_kind    TEXT,
  error_message TEXT,
  started_at    BIGINT,
  finished_at   BIGINT,
  checkpoint    TEXT
);

-- The event log. Writers insert rows with seq NULL in the transactions of the changes they
-- describe; the sequencer (storage/pg/pg_event_sequencer.h) numbers committed rows in the order
-- of `id` from one sequence, one pass at a time under an advisory lock. A seq is thus fixed
-- only after commit, so no reader can see seq 11 and later find a seq 10 committing: every
-- node reading by seq replays the same sequence. `id` orders the rows of one transaction.
CREATE TABLE event (
  id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  seq             BIGINT UNIQUE,
  time            BIGINT NOT NULL,
  type            TEXT   NOT NULL,
  batch           TEXT   NOT NULL,
  session_id      BIGINT,
  name            TEXT,
  state_from      TEXT,
  state_to        TEXT,
  sessions        BIGINT,
  n_uninitialized BIGINT,
  n_in_progress   BIGINT,
  n_completed     BIGINT,
  n_error         BIGINT,
  n_canceled      BIGINT,
  finished_at     BIGINT,
  attempt         BIGINT,
  error_kind      TEXT,
  error_message   TEXT,
  retry_at        BIGINT,
  rate            DOUBLE PRECISION,
  eta_s           DOUBLE PRECISION,
  chunk_rate      DOUBLE PRECISION,
  byte_rate       DOUBLE PRECISION,
  suppressed      BIGINT,
  chunks_done     BIGINT,
  chunks_total    BIGINT,
  bytes_done      BIGINT,
  chunk_ranges    TEXT
);
CREATE SEQUENCE event_seq AS BIGINT;
CREATE INDEX event_unsequenced ON event (id) WHERE seq IS NULL;
CREATE INDEX event_by_batch ON event (batch, seq);

-- Every transaction that adds events wakes the sequencers when it commits (NOTIFY is sent at
-- commit, once per transaction and channel).
CREATE FUNCTION event_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('batchd_event_rows', '');
  RETURN NULL;
END $$;
CREATE TRIGGER event_wake AFTER INSERT ON event FOR EACH STATEMENT EXECUTE FUNCTION event_wake();

CREATE FUNCTION now_ms() RETURNS BIGINT LANGUAGE sql STABLE AS $$
  SELECT (extract(epoch FROM statement_timestamp()) * 1000)::BIGINT
$$;

-- Batch lifecycle events, written by the database in the transaction that changes the batch's
-- state, as the SQLite triggers do (migrations/0004_events.sql).
CREATE FUNCTION event_batch_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO event (time, type, batch, name, state_from, state_to, sessions, n_uninitialized,
                     n_in_progress, n_completed, n_error, n_canceled, finished_at)
  VALUES (now_ms(), CASE WHEN OLD.state = 'enqueuing' THEN 'batch.enqueued' ELSE 'batch.state' END,
          NEW.public_id, NEW.name, OLD.state, NEW.state, NEW.session_count, NEW.n_uninitialized,
          NEW.n_in_progress, NEW.n_completed, NEW.n_error, NEW.n_canceled, NEW.finished_at);
  IF NEW.state IN ('completed', 'failed', 'canceled') THEN
    INSERT INTO event (time, type, batch, name, state_from, state_to, sessions, n_uninitialized,
                       n_in_progress, n_completed, n_error, n_canceled, finished_at)
    VALUES (now_ms(), 'batch.finished', NEW.public_id, NEW.name, OLD.state, NEW.state,
            NEW.session_count, NEW.n_uninitialized, NEW.n_in_progress, NEW.n_completed,
            NEW.n_error, NEW.n_canceled, NEW.finished_at);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER event_batch_state AFTER UPDATE OF state ON batch
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION event_batch_state();

CREATE FUNCTION event_batch_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO event (time, type, batch, name, state_from, sessions, n_uninitialized,
                     n_in_progress, n_completed, n_error, n_canceled, finished_at)
  VALUES (now_ms(), 'batch.deleted', OLD.public_id, OLD.name, OLD.state, OLD.session_count,
          OLD.n_uninitialized, OLD.n_in_progress, OLD.n_completed, OLD.n_error, OLD.n_canceled,
          OLD.finished_at);
  RETURN NULL;
END $$;
CREATE TRIGGER event_batch_deleted AFTER DELETE ON batch
  FOR EACH ROW WHEN (OLD.state <> 'enqueuing') EXECUTE FUNCTION event_batch_deleted();
