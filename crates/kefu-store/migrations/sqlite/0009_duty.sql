-- Who was on duty for which channel, when (the console's on/off-duty switch). Intervals, not
-- events: working time for chat billing (clause 6.1.2), staffing and "service not provided"
-- are sums and overlaps of them. One open interval per person and channel at a time.
CREATE TABLE duty_intervals (
    id              TEXT PRIMARY KEY NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id),
    channel         TEXT NOT NULL CHECK (channel IN ('phone', 'chat', 'email', 'onsite')),
    started_at      BIGINT NOT NULL,
    ended_at        BIGINT,
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE UNIQUE INDEX duty_intervals_one_open ON duty_intervals (user_id, channel) WHERE ended_at IS NULL;
CREATE INDEX duty_intervals_by_time ON duty_intervals (channel, started_at);
