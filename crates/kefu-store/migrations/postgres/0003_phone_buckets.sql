-- Phone figures from aggregates (DESIGN.md), PostgreSQL: the calls of one (interval, queue, agent) cell
-- folded into one PhoneBucket (counts, sums and exact wait histograms), kept up to date by
-- every import chunk in the same transaction as its calls. `calls` stays the truth: the
-- buckets can be rebuilt from it at any time, and a test proves the two agree.
-- Two grains keep the table small: 'interval' rows per (interval, queue) for every figure
-- but the per-agent ones, and 'agent_day' rows per (local day, queue, agent).
CREATE TABLE phone_buckets (
    contract_id     TEXT NOT NULL REFERENCES contracts (id),
    grain           TEXT NOT NULL CHECK (grain IN ('interval', 'agent_day')),
    start_local     TEXT NOT NULL,  -- interval or day start, local civil time 'YYYY-MM-DDTHH:MM:SS'
    queue           TEXT NOT NULL,  -- '' when the source did not say
    agent           TEXT NOT NULL,  -- '' on interval rows, and when no agent answered
    data            TEXT NOT NULL,  -- the PhoneBucket as JSON
    PRIMARY KEY (contract_id, grain, start_local, queue, agent)
);

-- How the buckets of a contract were cut (interval length, time zone). Different terms make
-- them stale: they are rebuilt from `calls`.
CREATE TABLE phone_bucket_plans (
    contract_id     TEXT PRIMARY KEY NOT NULL REFERENCES contracts (id),
    interval_ms     BIGINT NOT NULL,
    time_zone       TEXT NOT NULL
);

-- Local dates whose buckets must be rebuilt from `calls` before they are read (a call was
-- replaced by a newer version of itself).
CREATE TABLE phone_bucket_dirty_days (
    contract_id     TEXT NOT NULL REFERENCES contracts (id),
    day             TEXT NOT NULL,
    PRIMARY KEY (contract_id, day)
);
