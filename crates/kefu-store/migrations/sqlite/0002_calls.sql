-- Phone calls and resumable imports. migrations/postgres/0002_calls.sql is the same for
-- PostgreSQL.

-- The base contract lists its amendments by path; keeping each version's path lets the
-- contract be rebuilt from the database alone (base text + the amendments it names).
ALTER TABLE contract_versions ADD COLUMN source_path TEXT;
-- A signed amendment does not change: one text per amendment number.
ALTER TABLE contract_versions ADD COLUMN amendment_number TEXT;
CREATE UNIQUE INDEX contract_versions_one_text_per_amendment
    ON contract_versions (contract_id, amendment_number) WHERE amendment_number IS NOT NULL;

-- Where an interrupted import goes on from, and what it skipped on purpose.
ALTER TABLE import_batches ADD COLUMN resume_line BIGINT NOT NULL DEFAULT 1;
ALTER TABLE import_batches ADD COLUMN rows_skipped BIGINT NOT NULL DEFAULT 0;
-- How far the interrupted run had read: rows before it that are read again are replays.
ALTER TABLE import_batches ADD COLUMN read_offset BIGINT NOT NULL DEFAULT 0;

-- One call offered to an agent queue, normalised from its source (Asterisk queue_log or CDR,
-- Amazon Connect, a mapped CSV). The PBX's own log is the call's event history: first_line and
-- last_line point into the source file of import_batch_id, so every figure can be traced back.
-- (contract, source_format, source_id) makes imports idempotent; `version` lets a newer record
-- of the same contact (Amazon Connect's LastUpdateTimestamp) replace an older one.
CREATE TABLE calls (
    id               TEXT PRIMARY KEY NOT NULL,
    contract_id      TEXT NOT NULL REFERENCES contracts (id),
    source_format    TEXT NOT NULL,
    source_id        TEXT NOT NULL,
    version          BIGINT NOT NULL DEFAULT 0,
    queue            TEXT,
    caller_enc       BLOB,
    caller_bidx      BLOB,
    offered_at       BIGINT NOT NULL,
    answered_at      BIGINT,
    ended_at         BIGINT,
    outcome          TEXT NOT NULL CHECK (outcome IN ('answered', 'abandoned', 'timed_out', 'no_agents', 'exited_with_key', 'unknown')),
    agent            TEXT,
    talk_ms          BIGINT,
    unanswered_rings BIGINT NOT NULL DEFAULT 0,
    transferred_to   TEXT,
    import_batch_id  TEXT REFERENCES import_batches (id),
    first_line       BIGINT,
    last_line        BIGINT,
    UNIQUE (contract_id, source_format, source_id)
);

CREATE INDEX calls_by_offered ON calls (contract_id, offered_at);
