#!/usr/bin/env python3
"""Issue 16's targets, measured over a generated corpus with the Athena
stand-in (tests/support/athena_duck.py: sqlglot + DuckDB):

- bytes scanned by kmstop's query <= a hand-written
  `SELECT ... WHERE eventsource = 'kms.amazonaws.com'` over the same
  partitions (the stand-in counts the files of the partitions a query's
  predicates select, as Athena bills them);
- queries per report (kmstop: 1);
- the report from the DuckDB rendering of kmstop's SQL equals the local
  report, field for field, and the time of both side by side.

    bench/athena.py [--kmstop target/release/kmstop] [--corpus /tmp/kmstop-bench/corpus]

Writes bench/results/athena.md. The corpus is made with
`cargo run --release --example gen_corpus -- --out DIR --seed 42` if absent.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
NOT_KNOWN_HERE = {"non_kms", "files_failed", "not_log_files", "digest_files", "not_known"}


def start_stand_in(corpus, log):
    port_file = os.path.join(tempfile.mkdtemp(), "port")
    proc = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "tests/support/athena_duck.py"),
         "--port-file", port_file, "--log", log,
         "--table", f"db.org={corpus}/AWSLogs:org"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    while not os.path.exists(port_file):
        if proc.poll() is not None:
            sys.exit(f"the stand-in exited: {proc.stderr.read()}")
        if time.monotonic() - started > 900:
            sys.exit("the stand-in did not start in 15 minutes")
        time.sleep(0.2)
    with open(port_file) as f:
        return proc, f"http://127.0.0.1:{f.read().strip()}", time.monotonic() - started


def run(cmd, env=None):
    started = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    took = time.monotonic() - started
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr}")
    return out.stdout, out.stderr, took


def scanned(client, sql):
    qid = client.start_query_execution(QueryString=sql, WorkGroup="primary")["QueryExecutionId"]
    while True:
        q = client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        if q["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            if q["Status"]["State"] != "SUCCEEDED":
                sys.exit(f"hand-written query failed: {q['Status']}")
            return q["Statistics"]["DataScannedInBytes"]
        time.sleep(0.2)


def kmstop_queries(log):
    with open(log) as f:
        return [json.loads(l) for l in f if '"StartQueryExecution"' in l]


def differences(athena, local):
    out = []
    for key in local:
        if key == "files_read":
            continue
        if key == "skipped":
            for k, v in local["skipped"].items():
                if k not in NOT_KNOWN_HERE and athena["skipped"].get(k) != v:
                    out.append(f"skipped.{k}: athena {athena['skipped'].get(k)} local {v}")
        elif athena.get(key) != local[key]:
            out.append(key)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kmstop", default=os.path.join(REPO, "target/release/kmstop"))
    ap.add_argument("--corpus", default="/tmp/kmstop-bench/corpus")
    args = ap.parse_args()
    if not os.path.isdir(os.path.join(args.corpus, "AWSLogs")):
        subprocess.run(["cargo", "run", "-q", "--release", "--example", "gen_corpus", "--",
                        "--out", args.corpus, "--seed", "42"], cwd=REPO, check=True)
    log = os.path.join(tempfile.mkdtemp(), "athena.log")
    proc, endpoint, load_s = start_stand_in(args.corpus, log)
    env = dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x",
               AWS_EC2_METADATA_DISABLED="true")
    client = boto3.client("athena", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="x")
    rows = []
    try:
        cases = [("whole corpus", [], ""),
                 ("one account, one region", ["--account", "111122223333", "--region", "eu-west-1"],
                  " AND account IN ('111122223333') AND region IN ('eu-west-1')")]
        local_all, _, local_s = run([args.kmstop, "report", "--source",
                                     f"{args.corpus}/AWSLogs", "--format", "json"], env)
        for name, flags, predicates in cases:
            before = len(kmstop_queries(log))
            out, err, athena_s = run([args.kmstop, "report", "--source", "athena://db/org",
                                      "--athena-region", "us-east-1", "--endpoint-url", endpoint,
                                      "--format", "json", "--max-scanned", "1TB", *flags], env)
            queries = kmstop_queries(log)[before:]
            ours = sum(q.get("data_scanned_bytes", 0) for q in queries)
            hand = scanned(client, "SELECT eventname, count(*) FROM db.org "
                                   f"WHERE eventsource = 'kms.amazonaws.com'{predicates} GROUP BY 1")
            if flags:
                local_out, _, local_case_s = run([args.kmstop, "report", "--source",
                                                  f"{args.corpus}/AWSLogs/111122223333/CloudTrail/eu-west-1",
                                                  "--format", "json"], env)
            else:
                local_out, local_case_s = local_all, local_s
            diff = differences(json.loads(out), json.loads(local_out))
            rows.append((name, len(queries), ours, hand, athena_s, local_case_s, diff,
                         err.strip().splitlines()))
    finally:
        proc.terminate()
    lines = ["# Athena pushdown (issue 16)", "",
             f"Corpus: {args.corpus} (stand-in load: {load_s:.1f} s). The Athena column runs kmstop's",
             "SQL through sqlglot (Athena dialect -> DuckDB) and DuckDB, in the stand-in, paged",
             "through the Athena API by the real SDK path; `local` is `kmstop report` over the files.",
             "",
             "| case | queries | bytes scanned: kmstop | hand-written | ratio | Athena stand-in (s) | local report (s) | report equal |",
             "|---|---|---|---|---|---|---|---|"]
    for name, n, ours, hand, a_s, l_s, diff, _ in rows:
        lines.append(f"| {name} | {n} | {ours:,} | {hand:,} | {ours / hand:.2f} | {a_s:.1f} | {l_s:.2f} | "
                     f"{'yes' if not diff else 'NO: ' + ', '.join(diff)} |")
    lines += ["", "kmstop's stderr:", ""]
    for name, *_, err in rows:
        lines += [f"- {name}: " + " / ".join(err)]
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "athena.md"), "w") as f:
        f.write(text)
    print(text)
    if any(r[6] for r in rows) or any(r[2] > r[3] for r in rows) or any(r[1] > 4 for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
