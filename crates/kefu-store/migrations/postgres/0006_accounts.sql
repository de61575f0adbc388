-- The people who sign in to kefu and what they may do. Provider staff (admin, supervisor,
-- agent, QA reviewer) work across contracts; a client viewer (甲方) reads one contract's
-- figures, masked, and nothing else: contract_id says which. Passwords are argon2id PHC
-- strings; a generated first password must be changed at first sign-in.
CREATE TABLE users (
    id                   TEXT PRIMARY KEY NOT NULL,
    username             TEXT NOT NULL UNIQUE,
    display_name         TEXT NOT NULL,
    role                 TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent', 'qa_reviewer', 'client_viewer')),
    contract_id          TEXT REFERENCES contracts (id),
    password_hash        TEXT NOT NULL,
    must_change_password BIGINT NOT NULL DEFAULT 0 CHECK (must_change_password IN (0, 1)),
    created_at           BIGINT NOT NULL,
    disabled_at          BIGINT,
    CHECK ((role = 'client_viewer') = (contract_id IS NOT NULL))
);
