-- 0003: where chunk sessions stand, and what a batch's completed sessions add up to.
-- See docs/schema.md and docs/pipeline.md.

-- The last checkpoint of a chunk session (JSON: done chunk runs and the op's partial state),
-- written with chunks_done/chunks_total while it runs; a resumed session starts from it.
ALTER TABLE session_state ADD COLUMN checkpoint TEXT;

-- The results of the batch's completed sessions folded together by their op (JSON), updated
-- in the same transaction as each completion, so reading it never scans the sessions.
ALTER TABLE batch ADD COLUMN result TEXT;
