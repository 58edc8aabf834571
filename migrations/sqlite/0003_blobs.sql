-- Original documents (SBOMs; attestations later), content-addressed by SHA-256. A blob is
-- written in the same transaction as the first entry whose leaf binds its digest, so no
-- blob exists without an entry and no entry without its blob. Rows are never updated or
-- deleted: a later entry binding the same digest reuses the row as it is.
CREATE TABLE blobs (
    sha256     BLOB PRIMARY KEY,
    media_type TEXT NOT NULL,
    size       INTEGER NOT NULL,
    -- The first entry that bound this digest.
    idx        INTEGER NOT NULL,
    data       BLOB NOT NULL
);
