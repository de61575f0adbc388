-- Signed-in browsers and integrations. Only hashes of the secrets are stored (SHA-256 of a
-- 256-bit random token): a copy of the database opens no session.
CREATE TABLE sessions (
    token_hash      TEXT PRIMARY KEY NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id),
    -- Forms and console requests of this session must echo it (CSRF).
    csrf_token      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    -- Idle sessions end; every session ends at the latest a week after it began.
    expires_at      BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Tokens for integrations (a PBX pushing call events, a reporting tool): a bearer secret
-- acting as its owner's account, until revoked.
CREATE TABLE api_tokens (
    id              TEXT PRIMARY KEY NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id),
    name            TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    revoked_at      BIGINT
);
