-- PostgreSQL 0002: a cancel of a session in progress is kept in its row, not only sent.
-- NOTIFY batchd_stop is the fast path to the node running it, but LISTEN keeps no backlog: a
-- stop sent while that node's listener was reconnecting was lost, and the session ran to its
-- end. The node's heartbeat (storage/pg/pg_nodes.h) also stops its sessions that have the flag.
-- Set by a cancel of the session or its batch while it is in progress; cleared by the claim
-- that starts an attempt.
ALTER TABLE session ADD COLUMN stop_requested SMALLINT NOT NULL DEFAULT 0;
