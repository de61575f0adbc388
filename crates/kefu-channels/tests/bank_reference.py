#!/usr/bin/env python3
"""Independent check of kefu's figures for the Anonymous Bank call-centre log.

Reads the raw tab-separated file with the csv module, loads it into an
in-memory SQLite table and computes the figures with one SQL query, using the
vendor's own q_time column for the wait (kefu computes q_exit - q_start from
the times of day instead). Prints JSON. Python 3.11 standard library only.

Definitions (the same as examples/mappings/anonymous-bank.toml states):
- a row without exactly 17 fields is rejected; PHANTOM rows are ignored;
- a HANG row with q_start = 0:00:00 never reached an agent queue: not offered;
- offered = every other row; answered = AGENT; abandoned = HANG;
- wait of an answered call = q_time, or 0 when it never queued (q_start = 0:00:00);
- ASA = total wait of answered calls / answered;
- service level = answered within 20 s (wait <= 20) / offered.

Usage: bank_reference.py FILE
"""

import csv
import json
import sqlite3
import sys


def main(path: str) -> None:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE calls (line INTEGER, outcome TEXT, q_start TEXT, q_time INTEGER, server TEXT, vru_time INTEGER)"
    )
    rejected = []
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows)
        col = {name.strip(): i for i, name in enumerate(header)}
        for number, row in enumerate(rows, start=2):
            if not row or all(not v.strip() for v in row):
                continue
            if len(row) != len(header):
                rejected.append(number)
                continue
            db.execute(
                "INSERT INTO calls VALUES (?, ?, ?, ?, ?, ?)",
                (
                    number,
                    row[col["outcome"]].strip(),
                    row[col["q_start"]].strip(),
                    int(row[col["q_time"]]),
                    row[col["server"]].strip(),
                    int(row[col["vru_time"]]),
                ),
            )
    (
        offered,
        answered,
        abandoned,
        wait_total,
        within_20,
        not_offered,
        phantom,
        no_server,
        negative_vru,
    ) = db.execute(
        """
        WITH rows AS (
            SELECT outcome, q_start, server, vru_time,
                   CASE WHEN q_start = '0:00:00' THEN 0 ELSE q_time END AS wait,
                   outcome <> 'PHANTOM' AND NOT (outcome = 'HANG' AND q_start = '0:00:00') AS offered
            FROM calls
        )
        SELECT
            COALESCE(SUM(offered), 0),
            COALESCE(SUM(offered AND outcome = 'AGENT'), 0),
            COALESCE(SUM(offered AND outcome = 'HANG'), 0),
            COALESCE(SUM(CASE WHEN offered AND outcome = 'AGENT' THEN wait END), 0),
            COALESCE(SUM(offered AND outcome = 'AGENT' AND wait <= 20), 0),
            COALESCE(SUM(outcome = 'HANG' AND q_start = '0:00:00'), 0),
            COALESCE(SUM(outcome = 'PHANTOM'), 0),
            COALESCE(SUM(offered AND outcome = 'AGENT' AND server = 'NO_SERVER'), 0),
            COALESCE(SUM(outcome <> 'PHANTOM' AND vru_time < 0), 0)
        FROM rows
        """
    ).fetchone()
    print(
        json.dumps(
            {
                "offered": offered,
                "answered": answered,
                "abandoned": abandoned,
                "not_offered": not_offered,
                "phantom": phantom,
                "rejected_lines": rejected,
                "answered_without_agent": no_server,
                "negative_vru_time": negative_vru,
                "answered_wait_seconds": wait_total,
                "asa_seconds": wait_total / answered if answered else None,
                # repr: the shortest text that reads back as the same float.
                "asa_seconds_repr": repr(wait_total / answered) if answered else None,
                "answered_within_20s": within_20,
                "service_level_20s": within_20 / offered if offered else None,
                "service_level_20s_repr": repr(within_20 / offered) if offered else None,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: bank_reference.py FILE")
    main(sys.argv[1])
