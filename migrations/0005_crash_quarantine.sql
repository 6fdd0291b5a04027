-- 0005: poison-pill quarantine. How many times the daemon died of a fatal signal (its own
-- crash, not a kill) while this session was in progress. Recovery counts it up for the sessions
-- a crash left in progress and, at the limit, ends the session in a permanent error instead of
-- requeueing it, so no session can crash the daemon at every restart (docs/scheduler.md).
-- On the session row, not session_state: a session can crash the daemon before its execution
-- state is committed. ADD COLUMN with a constant default rewrites no row.
ALTER TABLE session ADD COLUMN fatal_crashes INTEGER NOT NULL DEFAULT 0;
