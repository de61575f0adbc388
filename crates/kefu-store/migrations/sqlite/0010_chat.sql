-- Live chat (在线客服): conversations and their messages. A message is stored before it is
-- acknowledged to its sender; (conversation, sender, client_msg_id) makes a resent message
-- count once, and seq orders a conversation's messages so a reconnecting client asks for
-- what came after the last one it has. Message text is customer data: encrypted.
CREATE TABLE chat_conversations (
    id                  TEXT PRIMARY KEY NOT NULL,
    contract_id         TEXT NOT NULL REFERENCES contracts (id),
    -- SHA-256 of the secret the customer's browser keeps to resume the conversation.
    visitor_token_hash  TEXT NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('waiting', 'active', 'ended')),
    agent_id            TEXT REFERENCES users (id),
    created_at          BIGINT NOT NULL,
    assigned_at         BIGINT,
    ended_at            BIGINT,
    rating              BIGINT CHECK (rating BETWEEN 1 AND 5),
    last_seq            BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX chat_conversations_by_time ON chat_conversations (contract_id, created_at);

CREATE TABLE chat_messages (
    conversation_id     TEXT NOT NULL REFERENCES chat_conversations (id),
    seq                 BIGINT NOT NULL,
    sender              TEXT NOT NULL CHECK (sender IN ('customer', 'agent', 'system')),
    agent_id            TEXT REFERENCES users (id),
    client_msg_id       TEXT NOT NULL,
    body_enc            BLOB NOT NULL,
    sent_at             BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq),
    UNIQUE (conversation_id, sender, client_msg_id)
);
