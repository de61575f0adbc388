"""The same phone figures as `kefu report`, computed by DuckDB from the same
queue_log file: the benchmark's independent side. Prints JSON with the figures
and the two timings (CSV load, query)."""
import json
import sys
import time

import duckdb

path, month, tz = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect()
con.execute("SET TimeZone = ?", [tz])
t0 = time.perf_counter()
# A queue_log line has 5 fixed fields and up to 5 data fields; pad the ragged rows.
con.execute(
    """
    CREATE TABLE ql AS SELECT * FROM read_csv(?, delim='|', header=false, quote='', escape='',
        null_padding=true, auto_detect=false,
        columns={'t':'VARCHAR','callid':'VARCHAR','queue':'VARCHAR','agent':'VARCHAR','event':'VARCHAR',
                 'd1':'VARCHAR','d2':'VARCHAR','d3':'VARCHAR','d4':'VARCHAR','d5':'VARCHAR'})
    """,
    [path],
)
load_s = time.perf_counter() - t0

t1 = time.perf_counter()
row = con.execute(
    """
    WITH ev AS (
        SELECT callid, event, CAST(t AS BIGINT) AS t, d3 FROM ql
        WHERE event IN ('ENTERQUEUE','CONNECT','ABANDON','EXITWITHTIMEOUT','EXITEMPTY','EXITWITHKEY')
    ),
    calls AS (
        SELECT callid,
               min(t) FILTER (WHERE event = 'ENTERQUEUE') AS entered,
               min(t) FILTER (WHERE event = 'CONNECT') AS connected,
               max(t) FILTER (WHERE event = 'ABANDON') AS abandoned_at,
               bool_or(event = 'ABANDON') AS abandoned
        FROM ev GROUP BY callid
    ),
    month AS (
        SELECT * FROM calls
        WHERE entered IS NOT NULL
          AND strftime(to_timestamp(entered), '%Y-%m') = ?
    )
    SELECT count(*) AS offered,
           count(connected) AS answered,
           count(*) FILTER (WHERE abandoned AND connected IS NULL) AS abandoned,
           count(*) FILTER (WHERE abandoned AND connected IS NULL AND abandoned_at - entered < 5) AS short_abandoned,
           sum(connected - entered) FILTER (WHERE connected IS NOT NULL) AS answered_wait_s,
           count(*) FILTER (WHERE connected IS NOT NULL AND connected - entered <= 20) AS within_20
    FROM month
    """,
    [month],
).fetchone()
query_s = time.perf_counter() - t1
offered, answered, abandoned, short, wait_s, within = row
print(json.dumps({
    "load_seconds": round(load_s, 3),
    "query_seconds": round(query_s, 3),
    "rows": con.execute("SELECT count(*) FROM ql").fetchone()[0],
    "offered": offered,
    "answered": answered,
    "abandoned": abandoned,
    "short_abandoned": short,
    "connection_rate_exact": [answered, offered - short],
    "asa_exact_ms": [int(wait_s) * 1000, answered],
    "within_20": within,
}))
