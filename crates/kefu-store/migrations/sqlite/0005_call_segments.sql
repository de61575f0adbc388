-- Calls move from one row each to segments: the calls of one contract, source format and
-- UTC day written by one import chunk, stored column by column and compressed (see
-- docs/architecture.md, "Calls are stored in segments"). Writing a row, a text primary key
-- and a unique natural key per call made a month of 3 million calls take a minute to import;
-- a segment of 20,000 calls is one row.
--
-- A store that already holds calls in the old table is refused rather than emptied: import
-- the files again into a new store (imports are idempotent and the files are the record).
CREATE TABLE migration_0005_guard (calls_in_old_table BIGINT NOT NULL CHECK (calls_in_old_table = 0));
INSERT INTO migration_0005_guard (calls_in_old_table) SELECT COUNT(*) FROM calls;
DROP TABLE migration_0005_guard;
DROP TABLE calls;

CREATE TABLE call_segments (
    id              TEXT PRIMARY KEY NOT NULL,
    contract_id     TEXT NOT NULL REFERENCES contracts (id),
    source_format   TEXT NOT NULL,
    -- Every call in the segment was offered on this UTC day (days since 1970-01-01). A call's
    -- natural key (contract, format, source id) is unique across segments: the writer looks
    -- for it on the call's day and the day on either side before writing.
    day             BIGINT NOT NULL,
    calls           BIGINT NOT NULL CHECK (calls > 0),
    first_offered_at BIGINT NOT NULL,
    last_offered_at BIGINT NOT NULL,
    -- Bumped whenever the segment is rewritten (a newer record of one of its calls arrived),
    -- so that a writer's cache of the keys it holds can tell it is stale.
    generation      BIGINT NOT NULL DEFAULT 0,
    -- The import run that wrote it first (each call also names its own run inside data).
    import_batch_id TEXT REFERENCES import_batches (id),
    -- zstd-compressed columns (layout in crates/kefu-store/src/segment_codec.rs).
    data            BLOB NOT NULL,
    -- The callers' numbers, encrypted as one value bound to this segment's id.
    callers_enc     BLOB
);

CREATE INDEX call_segments_by_day ON call_segments (contract_id, day);

-- Agents' events: one B-tree instead of three. The key starts with the time, so that
-- imports (in time order) append and a period's events are one range; it is still the
-- event's identity, which keeps re-imports idempotent.
CREATE TABLE agent_events_new (
    contract_id     TEXT NOT NULL REFERENCES contracts (id),
    source_format   TEXT NOT NULL,
    at              BIGINT NOT NULL,
    agent           TEXT NOT NULL,
    queue           TEXT NOT NULL,  -- '' when the event applies to all queues
    kind            TEXT NOT NULL CHECK (kind IN ('login', 'logoff', 'pause', 'unpause')),
    reason          TEXT,
    import_batch_id TEXT REFERENCES import_batches (id),
    line            BIGINT,
    PRIMARY KEY (contract_id, at, agent, kind, queue, source_format)
) WITHOUT ROWID;
INSERT INTO agent_events_new (contract_id, source_format, at, agent, queue, kind, reason, import_batch_id, line)
    SELECT contract_id, source_format, at, agent, queue, kind, reason, import_batch_id, line FROM agent_events;
DROP TABLE agent_events;
ALTER TABLE agent_events_new RENAME TO agent_events;

-- A source file is known by a digest that names its algorithm ("blake3:<hex>"): BLAKE3 reads
-- a 700 MB file in a fraction of the time SHA-256 takes, and the import cannot start before
-- it knows whether the file was seen. Runs recorded before keep their SHA-256 as "sha256:<hex>".
ALTER TABLE import_batches RENAME COLUMN source_sha256 TO source_digest;
UPDATE import_batches SET source_digest = 'sha256:' || source_digest;

-- Buckets are derived data: dropped here and rebuilt from the calls on the next read (no plan
-- stored means "rebuild everything"). Their data is now binary (postcard), not JSON.
DROP TABLE phone_buckets;
DELETE FROM phone_bucket_dirty_days;
DELETE FROM phone_bucket_plans;
CREATE TABLE phone_buckets (
    contract_id     TEXT NOT NULL REFERENCES contracts (id),
    grain           TEXT NOT NULL CHECK (grain IN ('interval', 'agent_day')),
    start_local     TEXT NOT NULL,  -- interval or day start, local civil time 'YYYY-MM-DDTHH:MM:SS'
    queue           TEXT NOT NULL,  -- '' when the source did not say
    agent           TEXT NOT NULL,  -- '' on interval rows, and when no agent answered
    data            BLOB NOT NULL,  -- the PhoneBucket, postcard-encoded
    PRIMARY KEY (contract_id, grain, start_local, queue, agent)
);

-- A day's mark now says why its buckets are not complete: '' = rebuild from the calls (a call
-- was replaced), or the id of an import run that has folded calls of the day and will write
-- them when it has moved past the day or ends (a run that dies leaves its mark: the day is
-- rebuilt on the next read). Readers rebuild every marked day first.
CREATE TABLE phone_bucket_dirty_days_new (
    contract_id     TEXT NOT NULL REFERENCES contracts (id),
    day             TEXT NOT NULL,
    pending_batch   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (contract_id, day, pending_batch)
);
INSERT INTO phone_bucket_dirty_days_new (contract_id, day, pending_batch)
    SELECT contract_id, day, '' FROM phone_bucket_dirty_days;
DROP TABLE phone_bucket_dirty_days;
ALTER TABLE phone_bucket_dirty_days_new RENAME TO phone_bucket_dirty_days;
