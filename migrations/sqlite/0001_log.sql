-- The log: meta row, leaves, subject index, idempotency keys, tiles, checkpoints, tokens.
-- Nothing here is ever updated except the right-edge tiles, which only grow.

CREATE TABLE meta (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    origin       TEXT NOT NULL,
    verifier_key TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

-- The exact leaf bytes; the leaf hash is recomputed from them, never trusted from storage.
CREATE TABLE entries (
    idx           INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL,
    integrated_at TEXT NOT NULL,
    leaf          BLOB NOT NULL
);
CREATE INDEX entries_kind ON entries (kind, idx);
CREATE INDEX entries_time ON entries (integrated_at, idx);

CREATE TABLE subjects (
    subject TEXT NOT NULL,
    idx     INTEGER NOT NULL,
    PRIMARY KEY (subject, idx)
) WITHOUT ROWID;

-- Idempotency: a client key (e.g. "event:<event_id>") maps to the first entry and the
-- digest of its content, so a resubmission is told apart from a conflicting reuse.
CREATE TABLE dedup (
    key            TEXT PRIMARY KEY,
    idx            INTEGER NOT NULL,
    content_sha256 BLOB NOT NULL
) WITHOUT ROWID;

-- C2SP tlog-tiles: 256 hashes of tree level 8*level per full tile.
CREATE TABLE tiles (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    data  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
    tree_size  INTEGER PRIMARY KEY,
    root_hash  BLOB NOT NULL,
    note       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    token_sha256 BLOB NOT NULL UNIQUE,
    created_at   TEXT NOT NULL
);
