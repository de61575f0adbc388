-- Calls pushed by a PBX as they happen (POST /api/v1/calls/events). Each event is kept as
-- received, idempotent by the sender's event id; a call's events are folded into one call
-- (source format 'live') when it ends, and again if a later event arrives. The caller's number
-- is encrypted, bound to the event.
CREATE TABLE call_events (
    contract_id     TEXT NOT NULL REFERENCES contracts (id),
    event_id        TEXT NOT NULL,
    call_id         TEXT NOT NULL,
    at              BIGINT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('enqueued', 'answered', 'transferred', 'abandoned', 'ended')),
    queue           TEXT,
    agent           TEXT,
    transferred_to  TEXT,
    caller_enc      BLOB,
    received_at     BIGINT NOT NULL,
    PRIMARY KEY (contract_id, event_id)
);
CREATE INDEX call_events_by_call ON call_events (contract_id, call_id);
