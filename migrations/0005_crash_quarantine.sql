-- 0005: poison-pill quarantine. How many times the daemon died of a fatal signal (its own
-- crash, not a kill) while this session was in progress. Recovery counts it up for the sessions
-- a crash left in progress and, at the limit, ends the session in a permanent error instead of
-- requeueing it, so no session can crash the daemon at every restart (docs/scheduler.md).
ALTER TABLE session_state ADD COLUMN fatal_crashes INTEGER NOT NULL DEFAULT 0;
