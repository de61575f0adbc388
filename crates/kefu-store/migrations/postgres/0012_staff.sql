-- Staff records (clauses 3.1, 3.2, 5.2; attachments 5, 6 and 7): who an agent is, the
-- certificates they hold, the trainings they attended, the assessments (考核) they took and
-- the NDAs they signed. The contract's staff policy is applied to these in kefu-core
-- (staff_policy); a flagged agent is not routed work. Days are 'YYYY-MM-DD' TEXT. Natural
-- keys (UNIQUE) make a CSV import idempotent: importing a file twice adds nothing.

-- One row per person: background. The ID-card number is personal data: encrypted like a
-- customer's (AAD: staff_profiles / id_number_enc / user id).
CREATE TABLE staff_profiles (
    user_id         TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    employee_no     TEXT UNIQUE,
    hired_on        TEXT,
    education       TEXT,
    notes           TEXT,
    id_number_enc   BYTEA,
    updated_at      BIGINT NOT NULL
);

-- Skills per channel: what the person can handle there (free text, e.g. "宽带故障, 套餐变更").
CREATE TABLE staff_skills (
    user_id         TEXT NOT NULL REFERENCES users (id),
    channel         TEXT NOT NULL CHECK (channel IN ('phone', 'chat', 'email', 'onsite')),
    skills          TEXT NOT NULL,
    PRIMARY KEY (user_id, channel)
);

-- 附件5 资格证书. The scanned file, when filed, is kept with its SHA-256 (hex).
CREATE TABLE staff_certificates (
    id              TEXT PRIMARY KEY NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id),
    name            TEXT NOT NULL,
    number          TEXT NOT NULL,
    issued_on       TEXT,
    expires_on      TEXT,
    file_name       TEXT,
    file_bytes      BYTEA,
    file_sha256     TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (user_id, number)
);

-- 附件6 培训记录. Length in whole minutes (no floating-point hours).
CREATE TABLE staff_trainings (
    id              TEXT PRIMARY KEY NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id),
    course          TEXT NOT NULL,
    held_on         TEXT NOT NULL,
    minutes         BIGINT NOT NULL CHECK (minutes >= 0),
    trainer         TEXT,
    result          TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (user_id, course, held_on)
);
CREATE INDEX staff_trainings_by_day ON staff_trainings (held_on);

-- 考核: score and the pass mark it was held under, out of 100.
CREATE TABLE staff_assessments (
    id              TEXT PRIMARY KEY NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id),
    held_on         TEXT NOT NULL,
    title           TEXT NOT NULL DEFAULT '',
    score           BIGINT NOT NULL CHECK (score BETWEEN 0 AND 100),
    pass_score      BIGINT NOT NULL CHECK (pass_score BETWEEN 0 AND 100),
    passed          BIGINT NOT NULL CHECK (passed IN (0, 1)),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (user_id, held_on, title)
);
CREATE INDEX staff_assessments_by_day ON staff_assessments (held_on);

-- 附件7 保密协议: the day signed and the SHA-256 (hex) of the signed document.
CREATE TABLE staff_ndas (
    id              TEXT PRIMARY KEY NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id),
    signed_on       TEXT NOT NULL,
    document_sha256 TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (user_id, signed_on)
);
