-- kefu schema, PostgreSQL dialect. migrations/sqlite/0001_initial.sql is the same schema for
-- SQLite; a test keeps the two folders in step (file names, tables, columns).
--
-- Conventions, identical on both backends:
--   ids        UUIDv7 as canonical lowercase TEXT (sorts by creation time on both)
--   instants   BIGINT epoch microseconds, UTC
--   dates      TEXT 'YYYY-MM-DD' (ISO order is date order)
--   JSON       TEXT, stored byte-exact (the audit hash covers the exact bytes)
--   ciphertext BYTEA (BLOB on SQLite), layout described in src/crypto.rs
--   numbers    BIGINT only, so Rust reads i64 on both backends
--   money      BIGINT minor units + currency TEXT (none in this migration yet)

CREATE TABLE contracts (
    id          TEXT PRIMARY KEY NOT NULL,
    number      TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- The base contract document and each amendment (补充协议), as loaded (TOML text).
CREATE TABLE contract_versions (
    id              TEXT PRIMARY KEY NOT NULL,
    contract_id     TEXT NOT NULL REFERENCES contracts (id),
    version_no      BIGINT NOT NULL,  -- 0 = base; amendments 1, 2, ... in load order
    kind            TEXT NOT NULL CHECK (kind IN ('base', 'amendment')),
    label           TEXT NOT NULL,
    effective_from  TEXT NOT NULL,
    document        TEXT NOT NULL,
    sha256          TEXT NOT NULL,    -- hex of SHA-256 over the document bytes
    loaded_at       BIGINT NOT NULL,
    UNIQUE (contract_id, sha256),
    UNIQUE (contract_id, version_no)
);
CREATE UNIQUE INDEX contract_versions_one_base ON contract_versions (contract_id) WHERE kind = 'base';

-- Customer PII is only ever stored encrypted; *_bidx are HMAC blind indexes for exact lookup.
CREATE TABLE customers (
    id              TEXT PRIMARY KEY NOT NULL,
    contract_id     TEXT NOT NULL REFERENCES contracts (id),
    name_enc        BYTEA,
    phone_enc       BYTEA,
    email_enc       BYTEA,
    id_number_enc   BYTEA,
    address_enc     BYTEA,
    phone_bidx      BYTEA,
    email_bidx      BYTEA,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX customers_phone_bidx ON customers (contract_id, phone_bidx);
CREATE INDEX customers_email_bidx ON customers (contract_id, email_bidx);

CREATE TABLE agents (
    id              TEXT PRIMARY KEY NOT NULL,
    contract_id     TEXT NOT NULL REFERENCES contracts (id),
    code            TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (contract_id, code)
);

-- On-duty intervals per agent and channel; ended_at NULL = still on duty.
CREATE TABLE presence (
    id              TEXT PRIMARY KEY NOT NULL,
    agent_id        TEXT NOT NULL REFERENCES agents (id),
    channel         TEXT NOT NULL CHECK (channel IN ('phone', 'chat', 'email', 'onsite')),
    started_at      BIGINT NOT NULL,
    ended_at        BIGINT,
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX presence_by_agent ON presence (agent_id, channel, started_at);

-- One row per imported source file: makes re-imports idempotent and lets a run resume.
CREATE TABLE import_batches (
    id              TEXT PRIMARY KEY NOT NULL,
    contract_id     TEXT NOT NULL REFERENCES contracts (id),
    format          TEXT NOT NULL,
    source_name     TEXT NOT NULL,
    source_sha256   TEXT NOT NULL,
    source_size     BIGINT NOT NULL,
    started_at      BIGINT NOT NULL,
    finished_at     BIGINT,
    state           TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed')),
    rows_read       BIGINT NOT NULL DEFAULT 0,
    rows_ok         BIGINT NOT NULL DEFAULT 0,
    rows_rejected   BIGINT NOT NULL DEFAULT 0,
    resume_offset   BIGINT NOT NULL DEFAULT 0,  -- bytes into the source already committed
    UNIQUE (contract_id, format, source_sha256)
);

-- A call, chat, email thread or visit. external_id is the source system's id (live chats
-- use their own id), unique per contract and channel so imports are idempotent.
CREATE TABLE contacts (
    id              TEXT PRIMARY KEY NOT NULL,
    contract_id     TEXT NOT NULL REFERENCES contracts (id),
    channel         TEXT NOT NULL CHECK (channel IN ('phone', 'chat', 'email', 'onsite')),
    external_id     TEXT NOT NULL,
    queue           TEXT,
    agent_id        TEXT REFERENCES agents (id),
    customer_id     TEXT REFERENCES customers (id),
    started_at      BIGINT NOT NULL,
    ended_at        BIGINT,
    state           TEXT NOT NULL,
    import_batch_id TEXT REFERENCES import_batches (id),
    UNIQUE (contract_id, channel, external_id)
);
CREATE INDEX contacts_by_time ON contacts (contract_id, channel, started_at);
CREATE INDEX contacts_by_agent ON contacts (agent_id, started_at);

-- The event history of a contact; (contact_id, seq) is the primary key, so it is unique.
CREATE TABLE contact_events (
    contact_id      TEXT NOT NULL REFERENCES contacts (id),
    seq             BIGINT NOT NULL,
    at              BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    agent_id        TEXT REFERENCES agents (id),
    data            TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (contact_id, seq)
);
CREATE INDEX contact_events_by_time ON contact_events (at);

-- Which data key this database was written with: one row, written at first start.
CREATE TABLE key_check (
    id              BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    key_id          TEXT NOT NULL,
    check_value     BYTEA NOT NULL,
    created_at      BIGINT NOT NULL
);

-- Append-only, hash-chained audit log (see src/audit.rs for the hash encoding).
CREATE TABLE audit_log (
    seq             BIGINT PRIMARY KEY NOT NULL CHECK (seq >= 1),
    at              BIGINT NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    subject         TEXT NOT NULL,
    detail          TEXT NOT NULL,
    prev_hash       BYTEA NOT NULL,
    hash            BYTEA NOT NULL
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END;
$$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
