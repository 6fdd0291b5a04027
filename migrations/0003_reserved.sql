-- 0003: intentionally empty. Another branch owns migration 3; this placeholder keeps the
-- numbering gapless (storage/migrations.h requires 1, 2, 3, ...) until the branches are merged,
-- when it is replaced by that branch's 0003 and the event log below is renumbered as needed.
SELECT 1;
