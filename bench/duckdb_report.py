#!/usr/bin/env python3
"""DuckDB baseline for `kmstop report`: same counts, computed in SQL.

usage: duckdb_report.py CORPUS_DIR [--check expected.json] [--print]

Reads CloudTrail log files (gzip and plain) with read_json_auto, unnests
Records, keeps kms.amazonaws.com events, de-duplicates on
(eventID, eventTime, eventName) and aggregates per principal, key and
eventName with the report's rules. Digest files are excluded by the glob
(their directory is CloudTrail-Digest, not CloudTrail).
"""
import glob
import json
import os
import sys

import duckdb

KEY_ARN = "'arn:aws:kms:%:%:key/%'"

SQL = f"""
CREATE TEMP TABLE recs AS
SELECT unnest(Records) AS r FROM read_json_auto(?, format='auto', union_by_name=true,
    maximum_object_size=2000000000, ignore_errors=false);

CREATE TEMP TABLE kms AS
SELECT DISTINCT ON (eventID, eventTime, eventName) * FROM (
  SELECT
    CAST(r.eventID AS VARCHAR) AS eventID,
    strftime(CAST(r.eventTime AS TIMESTAMPTZ) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS eventTime,
    r.eventName AS eventName,
    r.readOnly AS readOnly,
    coalesce(regexp_matches(r.errorCode, '(?i)accessdenied') OR r.errorCode LIKE '%UnauthorizedOperation', false) AS denied,
    r.errorCode IS NOT NULL AND NOT coalesce(regexp_matches(r.errorCode, '(?i)accessdenied') OR r.errorCode LIKE '%UnauthorizedOperation', false) AS error,
    CASE
      WHEN r.userIdentity.type = 'AssumedRole' AND r.userIdentity.sessionContext.sessionIssuer.arn IS NOT NULL
        THEN r.userIdentity.sessionContext.sessionIssuer.arn
      WHEN r.userIdentity.type = 'AWSService' AND r.userIdentity.invokedBy IS NOT NULL
        THEN r.userIdentity.invokedBy
      ELSE coalesce(r.userIdentity.arn, r.userIdentity.invokedBy, 'account:' || r.userIdentity.accountId,
                    r.userIdentity.principalId, 'unknown')
    END AS principal,
    coalesce(
      list_filter(r.resources, lambda x: x.ARN LIKE {KEY_ARN} AND (x.type IS NULL OR x.type = 'AWS::KMS::Key'))[1].ARN,
      CASE WHEN r.responseElements.keyId LIKE {KEY_ARN} THEN r.responseElements.keyId END,
      CASE
        WHEN (r.requestParameters['keyId'])->>'$' LIKE {KEY_ARN} THEN (r.requestParameters['keyId'])->>'$'
        WHEN regexp_full_match((r.requestParameters['keyId'])->>'$',
               '[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}|mrk-[0-9a-f]{{32}}')
          THEN 'arn:aws:kms:' || r.awsRegion || ':' || r.recipientAccountId || ':key/' || ((r.requestParameters['keyId'])->>'$')
      END,
      CASE WHEN (r.requestParameters['keyId']) IS NULL
        THEN nullif(regexp_extract(r.errorMessage, 'on resource: (arn:aws:kms:[^ ]+:key/[^ ]+)', 1), '') END
    ) AS key
  FROM recs WHERE r.eventSource = 'kms.amazonaws.com'
);
"""

QUERIES = {
    "totals": """SELECT count(*) AS events, sum(denied::INT) AS denied, sum(error::INT) AS errors,
        min(eventTime) AS "from", max(eventTime) AS "to", sum((readOnly = false)::INT) AS control_plane,
        (SELECT count(*) FROM recs WHERE r.eventSource = 'kms.amazonaws.com') - count(*) AS duplicate_records,
        (SELECT count(*) FROM (SELECT DISTINCT CAST(r.eventID AS VARCHAR), r.eventTime, r.eventName FROM recs
            WHERE r.eventSource IS DISTINCT FROM 'kms.amazonaws.com')) AS non_kms
        FROM kms""",
    "principals": """SELECT principal, count(*) AS events, sum((eventName = 'Decrypt')::INT) AS decrypt,
        sum(denied::INT) AS denied, count(DISTINCT key) AS keys, min(eventTime) AS first_seen,
        max(eventTime) AS last_seen FROM kms GROUP BY principal ORDER BY events DESC""",
    "keys": """SELECT key, count(*) AS events, sum(denied::INT) AS denied, count(DISTINCT principal) AS principals
        FROM kms WHERE key IS NOT NULL GROUP BY key ORDER BY events DESC""",
    "event_names": "SELECT eventName, count(*) AS events FROM kms GROUP BY eventName ORDER BY events DESC",
}


def log_globs(root):
    pats = []
    for base in (root, os.path.join(root, "overlap")):
        for ext in ("*.json.gz", "*.json"):
            pat = os.path.join(base, "AWSLogs", "*", "CloudTrail", "**", ext)
            if glob.glob(pat, recursive=True):
                pats.append(pat)
    return pats


def run(root):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    stmts = [s for s in SQL.split(";") if s.strip()]
    con.execute(stmts[0], [log_globs(root)])
    for s in stmts[1:]:
        con.execute(s)
    out = {}
    for name, q in QUERIES.items():
        cur = con.execute(q)
        cols = [d[0] for d in cur.description]
        out[name] = [dict(zip(cols, row)) for row in cur.fetchall()]
    return out


def check(res, expected_path):
    exp = json.load(open(expected_path))
    t = res["totals"][0]
    problems = []
    for f in ("events", "denied", "errors", "control_plane", "duplicate_records", "non_kms"):
        if int(t[f] or 0) != exp[f]:
            problems.append(f"{f}: duckdb {t[f]} expected {exp[f]}")
    for f in ("from", "to"):
        if t[f] != exp[f]:
            problems.append(f"{f}: duckdb {t[f]} expected {exp[f]}")
    got_p = {p["principal"]: p for p in res["principals"]}
    for name, want in exp["principals"].items():
        g = got_p.get(name)
        if g is None:
            problems.append(f"principal missing: {name!r}")
            continue
        for f in ("events", "decrypt", "denied"):
            if int(g[f]) != want[f]:
                problems.append(f"principal {name!r} {f}: {g[f]} != {want[f]}")
        if g["keys"] != len(want["keys"]):
            problems.append(f"principal {name!r} keys: {g['keys']} != {len(want['keys'])}")
        if (g["first_seen"], g["last_seen"]) != (want["first_seen"], want["last_seen"]):
            problems.append(f"principal {name!r} first/last seen differ")
    if len(got_p) != len(exp["principals"]):
        problems.append(f"principal count {len(got_p)} != {len(exp['principals'])}")
    got_k = {k["key"]: k for k in res["keys"]}
    if set(got_k) != set(exp["keys"]):
        problems.append(f"key sets differ: {sorted(set(got_k) ^ set(exp['keys']))[:5]}")
    for arn, want in exp["keys"].items():
        g = got_k.get(arn)
        if g and (int(g["events"]), int(g["denied"]), g["principals"]) != (want["events"], want["denied"], len(want["principals"])):
            problems.append(f"key {arn}: {g} != {want['events']}/{want['denied']}/{len(want['principals'])}")
    got_n = {n["eventName"]: n["events"] for n in res["event_names"]}
    if got_n != exp["event_names"]:
        problems.append("event_names differ")
    status = "OK" if not problems else "MISMATCH"
    print(f"duckdb check: {status} events={t['events']} denied={t['denied']} errors={t['errors']} "
          f"non_kms={t['non_kms']} duplicates={t['duplicate_records']} principals={len(got_p)}/{len(exp['principals'])} "
          f"keys={len(got_k)}/{len(exp['keys'])}")
    for p in problems[:20]:
        print("  " + p)
    return not problems


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = argv[1]
    res = run(root)
    if "--print" in argv:
        print(json.dumps(res, indent=1, default=str, ensure_ascii=True))
    if "--check" in argv:
        return 0 if check(res, argv[argv.index("--check") + 1]) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
