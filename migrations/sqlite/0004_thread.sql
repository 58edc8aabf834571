-- The digital thread (src/entry/edges.rs): typed nodes and the edges each event entry
-- creates between them, indexed from both ends. Rows are only ever inserted, in the
-- transaction that appends the entry creating them, and every edge keeps that entry's
-- index, so a query at a checkpoint counts only the edges below its tree size.
-- (0003 is left to the blob store.)

-- Node ids interned once: edges hold two integers instead of two strings.
CREATE TABLE nodes (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE -- lot:…, sublot:…, serial:…, work_order:…, equipment:…, sha256:…, customer:…
);

-- Downstream edges: src went into, acted on or made dst. Forward traces read the
-- primary key, backward traces the index on dst (which holds the key's other columns,
-- so time and label are one lookup away); a narrow index keeps appends cheap.
CREATE TABLE edges (
    src   INTEGER NOT NULL, -- nodes.id
    idx   INTEGER NOT NULL, -- the entry that created the edge
    dst   INTEGER NOT NULL, -- nodes.id
    kind  TEXT NOT NULL,    -- material, genealogy, contains, equipment, program, software, work_order, customer
    at    INTEGER NOT NULL, -- the event's effective_time, microseconds since the epoch (UTC)
    label TEXT,             -- role, relation, program name, software kind, customer order
    PRIMARY KEY (src, idx, dst, kind)
) WITHOUT ROWID;
CREATE INDEX edges_dst ON edges (dst, idx);

-- A correction (an event with `corrects`) names the entry it corrects; both stay.
CREATE TABLE corrections (
    corrected INTEGER NOT NULL, -- the corrected entry
    idx       INTEGER NOT NULL, -- the correcting entry
    PRIMARY KEY (corrected, idx)
) WITHOUT ROWID;
CREATE INDEX corrections_by ON corrections (idx, corrected);

-- Entries logged before this migration get their edges afterwards (threadlog migrate,
-- or in the background after a server starts): entries [next_idx, end_idx) still have
-- none, and thread queries answer 503 until next_idx = end_idx.
CREATE TABLE thread_backfill (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    next_idx INTEGER NOT NULL,
    end_idx  INTEGER NOT NULL
);
INSERT INTO thread_backfill (id, next_idx, end_idx)
    SELECT 1, 0, COALESCE(MAX(tree_size), 0) FROM checkpoints;
