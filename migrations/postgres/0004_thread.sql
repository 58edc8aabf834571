-- The digital thread (src/entry/edges.rs): typed nodes and the edges each event entry
-- creates between them, indexed from both ends. Rows are only ever inserted, in the
-- transaction that appends the entry creating them, and every edge keeps that entry's
-- index, so a query at a checkpoint counts only the edges below its tree size.
-- (0003 is left to the blob store.)

-- Node ids interned once: edges hold two integers instead of two strings.
CREATE TABLE nodes (
    id   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

-- Downstream edges: src went into, acted on or made dst. Forward traces read the
-- primary key, backward traces the index on dst; a narrow index keeps appends cheap.
CREATE TABLE edges (
    src   BIGINT NOT NULL,
    idx   BIGINT NOT NULL,
    dst   BIGINT NOT NULL,
    kind  TEXT NOT NULL,
    at    BIGINT NOT NULL,
    label TEXT,
    PRIMARY KEY (src, idx, dst, kind)
);
CREATE INDEX edges_dst ON edges (dst, idx);

CREATE TABLE corrections (
    corrected BIGINT NOT NULL,
    idx       BIGINT NOT NULL,
    PRIMARY KEY (corrected, idx)
);
CREATE INDEX corrections_by ON corrections (idx, corrected);

CREATE TABLE thread_backfill (
    id       SMALLINT PRIMARY KEY CHECK (id = 1),
    next_idx BIGINT NOT NULL,
    end_idx  BIGINT NOT NULL
);
INSERT INTO thread_backfill (id, next_idx, end_idx)
    SELECT 1, 0, COALESCE(MAX(tree_size), 0) FROM checkpoints;
