-- The log on PostgreSQL: the same tables as the SQLite schema, with PostgreSQL types.
-- Nothing here is ever updated except the right-edge tiles, which only grow. Times are
-- kept as the fixed-width RFC 3339 text the leaves carry, so they compare the same way
-- on both backends and a moved log keeps them byte for byte.

CREATE TABLE meta (
    id           SMALLINT PRIMARY KEY CHECK (id = 1),
    origin       TEXT NOT NULL,
    verifier_key TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

-- The exact leaf bytes; the leaf hash is recomputed from them, never trusted from storage.
CREATE TABLE entries (
    idx           BIGINT PRIMARY KEY CHECK (idx >= 0),
    kind          TEXT NOT NULL,
    integrated_at TEXT NOT NULL,
    leaf          BYTEA NOT NULL
);
CREATE INDEX entries_kind ON entries (kind, idx);
CREATE INDEX entries_time ON entries (integrated_at, idx);

CREATE TABLE subjects (
    subject TEXT NOT NULL,
    idx     BIGINT NOT NULL,
    PRIMARY KEY (subject, idx)
);

-- Idempotency: a client key (e.g. "event:<event_id>") maps to the first entry and the
-- digest of its content, so a resubmission is told apart from a conflicting reuse.
CREATE TABLE dedup (
    key            TEXT PRIMARY KEY,
    idx            BIGINT NOT NULL,
    content_sha256 BYTEA NOT NULL
);

-- C2SP tlog-tiles: 256 hashes of tree level 8*level per full tile.
CREATE TABLE tiles (
    level SMALLINT NOT NULL,
    idx   BIGINT NOT NULL,
    data  BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE checkpoints (
    tree_size  BIGINT PRIMARY KEY CHECK (tree_size >= 0),
    root_hash  BYTEA NOT NULL,
    note       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE tokens (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    token_sha256 BYTEA NOT NULL UNIQUE,
    created_at   TEXT NOT NULL
);
