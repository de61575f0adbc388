-- Agents' state changes as the PBX logged them (login, logoff, pause, unpause): the raw
-- material of presence (on-duty intervals) for staffing and "service not provided".
-- The key makes re-imports idempotent.
CREATE TABLE agent_events (
    contract_id     TEXT NOT NULL REFERENCES contracts (id),
    source_format   TEXT NOT NULL,
    at              BIGINT NOT NULL,
    agent           TEXT NOT NULL,
    queue           TEXT NOT NULL,  -- '' when the event applies to all queues
    kind            TEXT NOT NULL CHECK (kind IN ('login', 'logoff', 'pause', 'unpause')),
    reason          TEXT,
    import_batch_id TEXT REFERENCES import_batches (id),
    line            BIGINT,
    PRIMARY KEY (contract_id, source_format, agent, at, kind, queue)
);

CREATE INDEX agent_events_by_time ON agent_events (contract_id, at);
