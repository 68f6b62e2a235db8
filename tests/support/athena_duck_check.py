#!/usr/bin/env python3
"""Checks athena_duck.py with boto3, a client nobody on the project wrote: if
boto3 reads the stand-in's answers as Athena's, so can aws-sdk-athena. Builds
a small CloudTrail corpus with hostile values, starts the stand-in on it and
asserts what Athena would answer. Exits non-zero, saying why, on any failure.
"""

import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import boto3
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
DEADLINE = 180  # seconds; a loaded CI machine is slow to import duckdb
HOSTILE = [
    'it\'s "quoted" \\ back\\slash',
    "line one\nline two\r\n\ttabbed",
    "\u001b[2J\u001b[31mred\u0007",
    "emoji \U0001f600 and \u00e9\u4e2d\u0000nul",
    "'; DROP TABLE logs; --",
    "%_ like wildcards _%",
]


def event(i, region, day, **extra):
    base = {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::111122223333:assumed-role/app/s{i}",
            "accountId": "111122223333",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/app"},
                "attributes": {"mfaAuthenticated": "false", "creationDate": "2025-05-20T00:00:00Z"},
            },
        },
        "eventTime": f"2025-05-{day}T0{i % 10}:00:00Z",
        "eventSource": "kms.amazonaws.com",
        "eventName": "Decrypt",
        "awsRegion": region,
        "sourceIPAddress": "10.0.0.1",
        "userAgent": HOSTILE[i % len(HOSTILE)],
        "requestParameters": {"keyId": f"key-{i}", "encryptionContext": {"aws:s3:arn": "é"}},
        "responseElements": None,
        "requestID": f"req-{i}",
        "eventID": f"ev-{i:02d}",
        "readOnly": True,
        "resources": [
            {
                "accountId": "111122223333",
                "type": "AWS::KMS::Key",
                "ARN": f"arn:aws:kms:{region}:111122223333:key/k{i}",
            }
        ],
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333",
    }
    base.update(extra)
    return base


def corpus(root):
    """{eventID: record}; files under root/AWSLogs/111122223333 (and a second
    account, for the org layout)."""
    events = {}

    def put(account, region, day, name, records, raw=None):
        d = os.path.join(root, "AWSLogs", account, "CloudTrail", region, "2025", "05", day)
        os.makedirs(d, exist_ok=True)
        data = raw if raw is not None else json.dumps({"Records": records}).encode()
        with gzip.open(os.path.join(d, name), "wb") as f:
            f.write(data)
        for r in records:
            events[r["eventID"]] = r

    put("111122223333", "us-east-1", "20", "a.json.gz", [event(i, "us-east-1", "20") for i in range(6)])
    odd = [
        event(10, "eu-west-1", "21", userIdentity="not a struct", resources={"ARN": "an object"}),
        event(11, "eu-west-1", "21", errorCode="AccessDenied", errorMessage=HOSTILE[0], readOnly=False),
        # Names in any case; numbers where text belongs; a struct that is a number.
        {
            "EVENTID": "ev-12",
            "eventSource": "kms.amazonaws.com",
            "EventName": 42,
            "eventTime": "2025-05-21T01:00:00Z",
            "userIdentity": {"sessionContext": 7, "ARN": 3.5},
            "requestParameters": None,
            "resources": [5, {"arn": "x"}],
        },
    ]
    odd[2]["eventID"] = "ev-12"
    put("111122223333", "eu-west-1", "21", "b.json.gz", odd)
    put("111122223333", "eu-west-1", "21", "broken.json.gz", [], raw=b"{not json")
    put("444455556666", "us-east-1", "21", "c.json.gz", [event(20, "us-east-1", "21", eventID="ev-20")])
    # Never read: a digest, and a file that is not a log.
    digest = os.path.join(
        root, "AWSLogs", "111122223333", "CloudTrail-Digest", "us-east-1", "2025", "05", "20"
    )
    os.makedirs(digest)
    with open(os.path.join(digest, "d.json.gz"), "wb") as f:
        f.write(gzip.compress(json.dumps({"Records": [event(99, "us-east-1", "20")]}).encode()))
    with open(
        os.path.join(root, "AWSLogs", "111122223333", "CloudTrail", "us-east-1", "2025", "05", "20", "x.txt"),
        "w",
    ) as f:
        f.write("not a log")
    del events["ev-20"]  # another account: only the org table has it
    return events


class Stand:
    def __init__(self, tmp, name, root, *extra):
        self.port_file = os.path.join(tmp, name + ".port")
        self.log_path = os.path.join(tmp, name + ".log")
        self.err = open(os.path.join(tmp, name + ".stderr"), "w+")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                os.path.join(HERE, "athena_duck.py"),
                "--port-file",
                self.port_file,
                "--table",
                f"trail.logs={root}/AWSLogs/111122223333:account",
                "--table",
                f"trail.org={root}/AWSLogs:org",
                "--workgroup",
                "kmstop=s3://kmstop-results/",
                "--workgroup",
                "bare",
                "--log",
                self.log_path,
                *extra,
            ],
            stdout=self.err,
            stderr=self.err,
        )

    def client(self):
        deadline = time.monotonic() + DEADLINE
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                self.err.seek(0)
                raise SystemExit(f"athena_duck.py exited ({self.proc.returncode}):\n{self.err.read()}")
            if time.monotonic() > deadline:
                raise SystemExit("athena_duck.py wrote no port file in time")
            time.sleep(0.05)
        port = open(self.port_file).read()
        return boto3.client(
            "athena",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def log(self):
        with open(self.log_path) as f:
            return [json.loads(line) for line in f]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(DEADLINE)
        expect(code == 0, f"SIGTERM should end the stand-in cleanly, got exit code {code}")


def expect(ok, message):
    if not ok:
        raise AssertionError(message)


def error_of(call, **kw):
    try:
        call(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    raise AssertionError(f"{call.__name__}({kw}) should have failed")


def start(c, sql, **kw):
    kw.setdefault("WorkGroup", "kmstop")
    return c.start_query_execution(QueryString=sql, QueryExecutionContext={"Database": "trail"}, **kw)[
        "QueryExecutionId"
    ]


def wait(c, qid):
    deadline = time.monotonic() + DEADLINE
    while True:
        q = c.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        if q["Status"]["State"] not in ("QUEUED", "RUNNING"):
            return q
        expect(time.monotonic() < deadline, f"query {qid} still {q['Status']['State']}")
        time.sleep(0.05)


def rows(c, sql, page=1000):
    """(column names, rows of str|None), checking the paging and header row."""
    q = wait(c, start(c, sql))
    expect(q["Status"]["State"] == "SUCCEEDED", f"{sql!r} -> {q['Status']}")
    out, token, first = [], None, True
    while True:
        kw = {"NextToken": token} if token else {}
        r = c.get_query_results(QueryExecutionId=q["QueryExecutionId"], MaxResults=page, **kw)
        names = [col["Name"] for col in r["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
        got = [[d.get("VarCharValue") for d in row["Data"]] for row in r["ResultSet"]["Rows"]]
        expect(len(got) <= page, f"page of {len(got)} rows > MaxResults {page}")
        if first:
            expect(got[:1] == [names], f"the first row should be the header {names}, got {got[:1]}")
            got = got[1:]
        first = False
        out += got
        token = r.get("NextToken")
        if not token:
            return names, out


def failed(c, sql, **kw):
    q = wait(c, start(c, sql, **kw))
    expect(q["Status"]["State"] == "FAILED", f"{sql!r} should fail, got {q['Status']}")
    return q["Status"]["StateChangeReason"]


def scanned(c, sql):
    q = wait(c, start(c, sql))
    expect(q["Status"]["State"] == "SUCCEEDED", f"{sql!r} -> {q['Status']}")
    return q["Statistics"]["DataScannedInBytes"]


def check_queries(c, events):
    names, got = rows(
        c, "SELECT eventid, useragent, errormessage, readonly FROM logs ORDER BY eventid", page=2
    )
    expect(names == ["eventid", "useragent", "errormessage", "readonly"], f"columns {names}")
    expect([r[0] for r in got] == sorted(events), f"event ids {[r[0] for r in got]} != {sorted(events)}")
    for eid, ua, msg, ro in got:
        want = events[eid]
        expect(ua == want.get("userAgent"), f"{eid}: userAgent {ua!r} != {want.get('userAgent')!r}")
        expect(
            msg == want.get("errorMessage"), f"{eid}: errorMessage {msg!r} != {want.get('errorMessage')!r}"
        )
        if "readOnly" in want:
            expect(ro == ("true" if want["readOnly"] else "false"), f"{eid}: readonly {ro!r}")

    _, got = rows(
        c,
        """SELECT eventid, useridentity.arn, useridentity.sessioncontext.sessionissuer.arn,
        cardinality(resources), element_at(filter(resources, r -> r.type = 'AWS::KMS::Key'), 1).arn,
        json_extract_scalar(requestparameters, '$.keyId'), eventname, errorcode
        FROM "AwsDataCatalog"."trail"."logs" WHERE eventid IN ('ev-01', 'ev-10', 'ev-12') ORDER BY eventid""",
    )
    expect(
        got
        == [
            [
                "ev-01",
                "arn:aws:sts::111122223333:assumed-role/app/s1",
                "arn:aws:iam::111122223333:role/app",
                "1",
                "arn:aws:kms:us-east-1:111122223333:key/k1",
                "key-1",
                "Decrypt",
                None,
            ],
            ["ev-10", None, None, None, None, "key-10", "Decrypt", None],
            ["ev-12", "3.5", None, "2", None, None, "42", None],
        ],
        f"SerDe mapping / NULLs: {got}",
    )

    _, got = rows(c, "SELECT requestparameters FROM logs WHERE eventid = 'ev-03'")
    expect(
        json.loads(got[0][0]) == events["ev-03"]["requestParameters"], f"requestparameters JSON text: {got}"
    )

    # Trino's answers where DuckDB's differ, and Athena's _colN names.
    names, got = rows(
        c,
        """SELECT 7 / 2, regexp_extract('abc', 'x(y)', 1), split_part('a-b', '-', 3),
        json_extract_scalar('{"a":{"b":1}}', '$.a'),
        to_unixtime(from_iso8601_timestamp('2025-05-21T00:05:00Z')),
        count_if(true), approx_distinct(1) AS n""",
    )
    expect(names == ["_col0", "_col1", "_col2", "_col3", "_col4", "_col5", "n"], f"column names {names}")
    expect(got == [["3", None, None, None, "1.7477859E9", "1", "1"]], f"Trino semantics: {got}")

    reason = failed(c, "SELEC eventid FROM logs")
    expect(reason.startswith("sqlglot: "), f"bad SQL reason {reason!r}")
    reason = failed(c, 'SELECT count(*) FROM "trail"."missing"')
    expect(
        reason.startswith("TABLE_NOT_FOUND: ")
        and "Table 'awsdatacatalog.trail.missing' does not exist" in reason,
        f"missing table reason {reason!r}",
    )
    reason = failed(c, "SELECT CAST('x' AS bigint) FROM logs")
    expect(reason.startswith("duckdb: "), f"DuckDB error reason {reason!r}")
    qid = start(c, "SELEC 1")
    wait(c, qid)
    code, msg = error_of(c.get_query_results, QueryExecutionId=qid)
    expect(
        code == "InvalidRequestException" and msg.startswith("sqlglot: "),
        f"results of a failed query: {code} {msg}",
    )

    whole = scanned(c, "SELECT count(*) FROM logs")
    day = scanned(c, "SELECT count(*) FROM logs WHERE \"timestamp\" = '2025/05/20' AND region = 'us-east-1'")
    cte = scanned(c, "WITH e AS (SELECT * FROM logs WHERE region = 'us-east-1') SELECT count(*) FROM e")
    none = scanned(c, "SELECT count(*) FROM logs WHERE region = 'ap-south-1'")
    expect(
        0 == none < day <= cte < whole, f"DataScannedInBytes: none {none} day {day} cte {cte} whole {whole}"
    )
    org = scanned(c, "SELECT count(*) FROM org")
    one = scanned(c, "SELECT count(*) FROM org WHERE account = '444455556666'")
    expect(0 < one < org, f"DataScannedInBytes over the org table: {one} !< {org}")
    _, got = rows(
        c, 'SELECT account, region, "timestamp", count(*) FROM org GROUP BY 1, 2, 3 ORDER BY 1, 2, 3'
    )
    expect(
        got
        == [
            ["111122223333", "eu-west-1", "2025/05/21", "3"],
            ["111122223333", "us-east-1", "2025/05/20", "6"],
            ["444455556666", "us-east-1", "2025/05/21", "1"],
        ],
        f"org partitions: {got}",
    )

    q = wait(
        c, start(c, "CREATE EXTERNAL TABLE trail.other (eventversion string) LOCATION 's3://b/AWSLogs/'")
    )
    expect(q["Status"]["State"] == "SUCCEEDED" and q["StatementType"] == "DDL", f"DDL: {q}")
    r = c.get_query_results(QueryExecutionId=q["QueryExecutionId"])
    expect(r["ResultSet"]["Rows"] == [], f"DDL rows: {r['ResultSet']}")

    code, msg = error_of(c.start_query_execution, QueryString="SELECT 1", WorkGroup="nope")
    expect(
        (code, msg) == ("InvalidRequestException", "WorkGroup nope is not found."),
        f"unknown workgroup: {code} {msg}",
    )
    code, msg = error_of(c.start_query_execution, QueryString="SELECT 1", WorkGroup="bare")
    expect(
        code == "InvalidRequestException" and msg.startswith("No output location provided."),
        f"no output: {msg}",
    )
    q = wait(c, start(c, "SELECT 1", WorkGroup="bare", ResultConfiguration={"OutputLocation": "s3://mine/"}))
    expect(q["ResultConfiguration"]["OutputLocation"].startswith("s3://mine/"), f"output location: {q}")
    wg = c.get_work_group(WorkGroup="kmstop")["WorkGroup"]
    expect(
        wg["Configuration"]["ResultConfiguration"]["OutputLocation"] == "s3://kmstop-results/",
        f"workgroup: {wg}",
    )


def check_stop(c, stand):
    qid = start(c, "SELECT count(*) FROM logs")
    q = c.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
    expect(
        q["Status"]["State"] in ("QUEUED", "RUNNING"),
        f"with --delay the query should still run: {q['Status']}",
    )
    code, msg = error_of(c.get_query_results, QueryExecutionId=qid)
    expect(
        code == "InvalidRequestException" and msg.startswith("Query has not yet finished"),
        f"early results: {msg}",
    )
    c.stop_query_execution(QueryExecutionId=qid)
    q = c.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
    expect(q["Status"]["State"] == "CANCELLED", f"after StopQueryExecution: {q['Status']}")
    code, msg = error_of(c.get_work_group, WorkGroup="kmstop")
    expect(code == "AccessDeniedException" and "athena:GetWorkGroup" in msg, f"--deny: {code} {msg}")
    ops = [(e["operation"], e.get("query_execution_id")) for e in stand.log()]
    expect(("StopQueryExecution", qid) in ops, f"the log should show the stop: {ops}")
    start(c, "SELECT count(*) FROM logs")  # still running when SIGTERM comes


def check_log(stand):
    log = stand.log()
    starts = [e for e in log if e["operation"] == "StartQueryExecution" and "sql" in e]
    expect(starts and all("query_execution_id" in e for e in starts), "StartQueryExecution entries carry ids")
    ddl = [e for e in starts if e.get("statement_type") == "DDL"]
    expect(len(ddl) == 1 and ddl[0]["sql"].startswith("CREATE EXTERNAL TABLE"), f"DDL in the log: {ddl}")
    dml = [e for e in starts if e.get("statement_type") == "DML"]
    expect(
        all("duckdb_sql" in e and "data_scanned_bytes" in e for e in dml), "DML entries carry the DuckDB SQL"
    )


def main():
    os.environ.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    os.environ.pop("AWS_PROFILE", None)
    with tempfile.TemporaryDirectory(prefix="athena_duck_check_") as tmp:
        root = os.path.join(tmp, "corpus")
        events = corpus(root)
        plain = Stand(tmp, "plain", root)
        slow = Stand(tmp, "slow", root, "--delay", "120", "--deny", "GetWorkGroup")
        denied = Stand(tmp, "denied", root, "--deny", "StartQueryExecution")
        stands = [plain, slow, denied]
        try:
            check_queries(plain.client(), events)
            check_log(plain)
            check_stop(slow.client(), slow)
            code, msg = error_of(denied.client().start_query_execution, QueryString="SELECT 1")
            expect(
                code == "AccessDeniedException" and "athena:StartQueryExecution" in msg,
                f"--deny: {code} {msg}",
            )
            for s in stands:
                s.stop()
        except AssertionError as e:
            for s in stands:
                s.err.seek(0)
                print(f"--- {s.log_path} stderr:\n{s.err.read()}", file=sys.stderr)
            sys.exit(f"athena_duck check FAILED: {e}")
        finally:
            for s in stands:
                if s.proc.poll() is None:
                    s.proc.kill()
                    s.proc.wait()
    print("athena_duck check: all good")


if __name__ == "__main__":
    main()
