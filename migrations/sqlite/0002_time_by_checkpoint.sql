-- Every entry of a batch carries its checkpoint's time, and checkpoint times never go
-- backwards, so a time range maps to an index range through the checkpoints: one small
-- index per batch instead of one index entry per leaf on the append path.
DROP INDEX entries_time;
CREATE INDEX checkpoints_time ON checkpoints (created_at, tree_size);
