-- Outside a channel's service hours the chat widget takes a message instead (clause 2.1.2,
-- outside_hours = "offline_message"). Each one is a contact (channel chat, state
-- 'offline_message' until someone follows it up) whose customer is stored like any other
-- (name, phone, email encrypted); the message text is customer data too: encrypted.
CREATE TABLE offline_messages (
    contact_id      TEXT PRIMARY KEY NOT NULL REFERENCES contacts (id),
    contract_id     TEXT NOT NULL REFERENCES contracts (id),
    body_enc        BYTEA NOT NULL,
    received_at     BIGINT NOT NULL,
    followed_up_at  BIGINT,
    followed_up_by  TEXT REFERENCES users (id)
);
CREATE INDEX offline_messages_by_time ON offline_messages (contract_id, received_at);

-- What a person chose for themselves: the console's language follows them from browser
-- to browser.
CREATE TABLE user_preferences (
    user_id         TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    lang            TEXT CHECK (lang IN ('zh', 'en')),
    updated_at      BIGINT NOT NULL
);
