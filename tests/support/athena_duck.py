#!/usr/bin/env python3
"""A stand-in for Amazon Athena, for tests: it speaks Athena's JSON wire
protocol (what aws-sdk-athena and boto3 send) and runs each query with engines
we did not write, sqlglot (Athena's Trino dialect, transpiled to DuckDB's) and
DuckDB, over CloudTrail log files on disk loaded as the CloudTrail SerDe shows
them (athena_duck_data.py). A query sqlglot cannot read fails with a reason
starting "sqlglot: ": kmstop's generated SQL must never do that.

    athena_duck.py --port-file F --table DB.TABLE=DIR:LAYOUT [--table ...]
        [--workgroup NAME[=s3://out/]] [--delay S] [--deny ACTION] [--log FILE]

LAYOUT is `account` (DIR/CloudTrail/REGION/YYYY/MM/DD/*.json.gz; partitions
region, timestamp) or `org` (DIR/ACCOUNT/CloudTrail/...; partitions account,
region, timestamp). Nothing is written anywhere but the port file and the log.
"""

import argparse
import base64
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError

sys.dont_write_bytecode = True  # nothing written beside the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import athena_duck_data as data  # noqa: E402

logging.getLogger("sqlglot").setLevel(logging.ERROR)  # the FAILED reason says it
FILES_SCHEMA = "__athena_duck_files"
DEFAULT_OUTPUT = "s3://athena-results/"
ACCOUNT = "123456789012"
# DDL is recorded, never run: the tables are the ones loaded at start.
DDL = re.compile(r"^(CREATE|DROP|ALTER|MSCK)\b", re.I)
LEADING_COMMENTS = re.compile(r"^(\s+|--[^\n]*(\n|$)|/\*.*?\*/)*", re.S)
NOT_FINAL = ("QUEUED", "RUNNING")


class ApiError(Exception):
    def __init__(self, kind, message, code=None):
        super().__init__(message)
        self.kind, self.message, self.code = kind, message, code


class Failed(Exception):
    """A query that reaches the FAILED state with this reason."""


def invalid(message, code=None):
    return ApiError("InvalidRequestException", message, code)


# ---------------------------------------------------------------- planning


def athena_semantics(tree):
    """Where DuckDB answers differently from Trino for the same function,
    rewrite to Trino's answer (integer division is a DuckDB setting)."""
    # Trino: NULL when the pattern does not match (DuckDB: '').
    for node in reversed(list(tree.find_all(exp.RegexpExtract))):
        matches = exp.RegexpLike(this=node.this.copy(), expression=node.expression.copy())
        node.replace(exp.Case(ifs=[exp.If(this=matches, true=node.copy())]))
    # Trino: NULL when the path names an object or array (DuckDB: its JSON).
    for node in reversed(list(tree.find_all(exp.JSONExtractScalar))):
        value = exp.JSONExtract(this=node.this.copy(), expression=node.expression.copy())
        kind = exp.Anonymous(this="json_type", expressions=[value])
        scalar = exp.not_(
            exp.In(this=kind, expressions=[exp.Literal.string("OBJECT"), exp.Literal.string("ARRAY")])
        )
        node.replace(exp.Case(ifs=[exp.If(this=scalar, true=node.copy())]))
    # Trino: NULL past the last field (DuckDB: '').
    for node in reversed(list(tree.find_all(exp.SplitPart))):
        fields = exp.Anonymous(
            this="len",
            expressions=[
                exp.Anonymous(
                    this="string_split", expressions=[node.this.copy(), node.args["delimiter"].copy()]
                )
            ],
        )
        inside = exp.LTE(this=node.args["part_index"].copy(), expression=fields)
        node.replace(exp.Case(ifs=[exp.If(this=inside, true=node.copy())]))
    return tree


def athena_column_names(tree):
    """Trino names an unaliased expression _colN (DuckDB: its text)."""
    while isinstance(tree, (exp.SetOperation, exp.Subquery)):
        tree = tree.this
    if isinstance(tree, exp.Select):
        for i, e in enumerate(tree.expressions):
            if not isinstance(e, (exp.Alias, exp.Column, exp.Star, exp.Dot)):
                e.replace(exp.alias_(e.copy(), f"_col{i}"))
    return tree


def position(node):
    meta = node.this.meta if isinstance(node.this, exp.Expression) else {}
    return f"line {meta.get('line', 1)}:{meta.get('col', 1)}"


def conjuncts(where):
    if where is None:
        return []
    return list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]


def prunes(c, parts, names):
    """Whether conjunct c tests only partition columns of the table called
    one of names (or unqualified ones)."""
    cols = list(c.find_all(exp.Column))
    return (
        bool(cols)
        and not c.find(exp.Query, exp.Subquery)
        and all(x.name.lower() in parts and x.table.lower() in names | {""} for x in cols)
    )


def where_of_scans(tree, resolved, partitions):
    """{table key: one list per scan of its partition-only WHERE conjuncts}:
    what Athena prunes partitions with. resolved maps id(exp.Table) to a
    loaded table's key. A scan without such conjuncts reads every file."""
    scans = {}
    for select in tree.find_all(exp.Select):
        source = select.args.get("from_") or select.args.get("from")
        sources = [source.this] if source else []
        sources += [j.this for j in select.args.get("joins") or []]
        for t in sources:
            key = resolved.get(id(t))
            if key is not None:
                parts, names = set(partitions[key]), {t.name.lower(), t.alias_or_name.lower()}
                kept = [c for c in conjuncts(select.args.get("where")) if prunes(c, parts, names)]
                scans.setdefault(key, []).append(kept)
    return scans


class Engine:
    def __init__(self, tables):
        started = time.monotonic()
        self.con = data.load(tables, FILES_SCHEMA)
        print(f"athena_duck: loaded in {time.monotonic() - started:.1f} s", file=sys.stderr)
        self.partitions = {key: data.PARTITIONS[layout] for key, (_, layout) in tables.items()}
        self.lock = threading.Lock()  # cursors are made one at a time
        # Athena sessions are UTC; nothing a query runs may touch files.
        self.con.execute("SET GLOBAL TimeZone = 'UTC'")
        self.con.execute("SET GLOBAL integer_division = true")  # Trino: 7 / 2 = 3
        self.con.execute("SET enable_external_access = false")
        self.con.execute("SET lock_configuration = true")

    def plan(self, sql, database):
        """(statement type, DuckDB SQL, scanned bytes); raises Failed."""
        if DDL.match(LEADING_COMMENTS.sub("", sql, count=1)):
            return "DDL", None, 0
        try:
            trees = [t for t in sqlglot.parse(sql, read="athena") if t is not None]
        except ParseError as e:
            err = e.errors[0] if e.errors else {}
            where = f"line {err.get('line', 1)}:{err.get('col', 1)}"
            raise Failed(f"sqlglot: {where}: {err.get('description', e)}") from None
        except SqlglotError as e:
            raise Failed(f"sqlglot: {e}") from None
        if len(trees) != 1:
            raise Failed(f"Only one sql statement is allowed. Got: {sql}")
        tree = trees[0]
        if isinstance(tree, exp.Condition):  # a bare expression, e.g. "SELEC"
            raise Failed(f"sqlglot: line 1:1: not a statement: {sql.strip()[:60]}")
        if isinstance(tree, exp.Command):  # sqlglot's fallback for syntax it cannot read
            raise Failed(f"sqlglot: unsupported syntax, read as a bare command: {sql.strip()[:60]}")
        if not isinstance(tree, exp.Query):
            raise Failed(f"NOT_SUPPORTED: the stand-in runs queries only, not {tree.key.upper()}")
        resolved = {}
        ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
        for t in list(tree.find_all(exp.Table)):
            if not isinstance(t.this, exp.Identifier):
                raise Failed(f"NOT_SUPPORTED: {position(t)}: table functions")
            name, db, catalog = t.name.lower(), t.db.lower(), t.catalog.lower()
            if not db and name in ctes:
                continue
            key = (db or database.lower(), name)
            if catalog not in ("", "awsdatacatalog") or key not in self.partitions:
                full = f"{catalog or 'awsdatacatalog'}.{key[0]}.{name}"
                raise Failed(f"TABLE_NOT_FOUND: {position(t)}: Table '{full}' does not exist")
            t.set("catalog", None)
            t.set("db", exp.to_identifier(key[0], quoted=True))
            t.set("this", exp.to_identifier(name, quoted=True))
            resolved[id(t)] = key
        scanned = self.scanned_bytes(where_of_scans(tree, resolved, self.partitions))
        athena_column_names(tree)
        try:
            duck = athena_semantics(tree).sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)
        except SqlglotError as e:
            raise Failed(f"sqlglot: {e}") from None
        return "DML", duck, scanned

    def scanned_bytes(self, scans):
        """The compressed size of the files some scan must read: those whose
        partition values pass that scan's partition-only conjuncts."""
        total = 0
        with self.cursor() as cur:
            for key, per_scan in scans.items():
                total += self.scanned_in(cur, key, per_scan)
        return total

    @staticmethod
    def scanned_in(cur, key, per_scan):
        files = f'"{FILES_SCHEMA}"."{key[0]}.{key[1]}"'
        tests = []
        for conjuncts in per_scan:
            bare = [c.copy() for c in conjuncts]
            for c in bare:
                for col in c.find_all(exp.Column):
                    col.set("table", None)
            cond = exp.and_(*bare).sql(dialect="duckdb") if bare else "TRUE"
            try:  # a predicate DuckDB cannot evaluate prunes nothing
                cur.execute(f"SELECT count(*) FROM {files} WHERE {cond}")
            except duckdb.Error:
                cond = "TRUE"
            tests.append(f"({cond})")
        return cur.execute(
            f"SELECT coalesce(sum(size), 0) FROM {files} WHERE {' OR '.join(tests)}"
        ).fetchone()[0]

    def cursor(self):
        with self.lock:
            return self.con.cursor()

    def run(self, cursor, duck_sql):
        """(column info, rows of Athena text values)."""
        try:
            cursor.execute(duck_sql)
            rows = cursor.fetchall()
        except duckdb.Error as e:
            raise Failed(f"duckdb: {e}") from None
        columns = [data.column_info(d[0], str(d[1])) for d in cursor.description]
        return columns, [[data.athena_text(v) for v in row] for row in rows]


# ---------------------------------------------------------------- the service


class Query:
    def __init__(self, qid, sql, context, workgroup, output):
        self.id, self.sql, self.context, self.workgroup = qid, sql, context, workgroup
        self.output = output
        self.state, self.reason = "QUEUED", None
        self.statement_type = "DML"
        self.submitted, self.completed = time.time(), None
        self.scanned, self.columns, self.rows = 0, [], []
        self.cancelled = threading.Event()
        self.cursor = None


class Athena:
    def __init__(self, engine, workgroups, delay, deny, log_path):
        self.engine, self.workgroups, self.delay, self.deny = engine, workgroups, delay, deny
        self.queries, self.tokens = {}, {}
        self.lock = threading.Lock()
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None

    def log(self, entry):
        if self.log_file:
            with self.lock:
                self.log_file.write(json.dumps(entry, ensure_ascii=False) + "\n")
                self.log_file.flush()

    def call(self, operation, body, region):
        entry = {"operation": operation}
        try:
            handler = getattr(self, "op_" + operation, None)
            if handler is None:
                raise ApiError("UnknownOperationException", f"Unknown operation {operation}")
            if "QueryExecutionId" in body:
                entry["query_execution_id"] = body["QueryExecutionId"]
            if operation in self.deny:
                wg = body.get("WorkGroup") or "primary"
                raise ApiError(
                    "AccessDeniedException",
                    f"User: arn:aws:iam::{ACCOUNT}:user/test is not authorized to perform: "
                    f"athena:{operation} on resource: arn:aws:athena:{region}:{ACCOUNT}:workgroup/{wg} "
                    "because no identity-based policy allows the athena:" + operation + " action",
                )
            return handler(body, entry)
        except ApiError as e:
            entry["error"] = e.kind
            raise
        finally:
            self.log(entry)

    def query(self, body):
        qid = body.get("QueryExecutionId")
        with self.lock:
            q = self.queries.get(qid)
        if q is None:
            raise invalid(f"QueryExecution {qid} was not found", "INVALID_INPUT")
        return q

    def op_StartQueryExecution(self, body, entry):
        sql = body.get("QueryString")
        if not isinstance(sql, str) or not sql.strip():
            raise invalid("QueryString must not be empty", "INVALID_INPUT")
        wg_name = body.get("WorkGroup") or "primary"
        if wg_name not in self.workgroups:
            raise invalid(f"WorkGroup {wg_name} is not found.")
        output = (body.get("ResultConfiguration") or {}).get("OutputLocation") or self.workgroups[wg_name]
        if not output:
            raise invalid(
                "No output location provided. An output location is required either through "
                "the Workgroup result configuration setting or as an API input."
            )
        context = body.get("QueryExecutionContext") or {}
        token = body.get("ClientRequestToken")
        with self.lock:
            if token and token in self.tokens:  # Athena's idempotency
                entry["query_execution_id"] = self.tokens[token]
                return {"QueryExecutionId": self.tokens[token]}
            q = Query(str(uuid.uuid4()), sql, context, wg_name, output)
            self.queries[q.id] = q
            if token:
                self.tokens[token] = q.id
        entry.update(query_execution_id=q.id, workgroup=wg_name, sql=sql)
        try:
            q.statement_type, duck_sql, q.scanned = self.engine.plan(
                sql, context.get("Database") or "default"
            )
            entry.update(statement_type=q.statement_type, duckdb_sql=duck_sql, data_scanned_bytes=q.scanned)
        except Failed as e:
            self.finish(q, "FAILED", str(e))
            entry.update(failed=str(e))
        else:
            threading.Thread(target=self.execute, args=(q, duck_sql), daemon=True).start()
        return {"QueryExecutionId": q.id}

    def execute(self, q, duck_sql):
        with self.lock:
            if q.state != "QUEUED":
                return
            q.state = "RUNNING"
            q.cursor = self.engine.cursor()
        try:
            if duck_sql is not None:
                columns, rows = self.engine.run(q.cursor, duck_sql)
            else:
                columns, rows = [], []
        except Failed as e:
            outcome = ("FAILED", str(e), [], [])
        else:
            outcome = ("SUCCEEDED", None, columns, rows)
        with self.lock:
            q.cursor.close()
            q.cursor = None
        # --delay: hold RUNNING so a client can be seen stopping the query.
        q.cancelled.wait(max(0.0, q.submitted + self.delay - time.time()))
        self.finish(q, *outcome)

    def finish(self, q, state, reason=None, columns=(), rows=()):
        with self.lock:
            if q.state not in NOT_FINAL:
                return
            q.state, q.reason, q.completed = state, reason, time.time()
            q.columns, q.rows = list(columns), list(rows)

    def op_GetQueryExecution(self, body, entry):
        q = self.query(body)
        with self.lock:
            status = {"State": q.state, "SubmissionDateTime": q.submitted}
            if q.reason:
                status["StateChangeReason"] = q.reason
            if q.state == "FAILED":
                status["AthenaError"] = {
                    "ErrorCategory": 2,
                    "ErrorType": 1006,
                    "Retryable": False,
                    "ErrorMessage": q.reason,
                }
            if q.completed:
                status["CompletionDateTime"] = q.completed
            elapsed = int(((q.completed or time.time()) - q.submitted) * 1000)
            done = q.state == "SUCCEEDED"
            suffix = ".txt" if q.statement_type == "DDL" else ".csv"
            execution = {
                "QueryExecutionId": q.id,
                "Query": q.sql,
                "StatementType": q.statement_type,
                "ResultConfiguration": {"OutputLocation": q.output.rstrip("/") + "/" + q.id + suffix},
                "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
                "QueryExecutionContext": q.context,
                "Status": status,
                "Statistics": {
                    "EngineExecutionTimeInMillis": elapsed,
                    # Athena counts bytes as a query reads them; DuckDB
                    # holds every file already, so a running query has
                    # read all it will.
                    "DataScannedInBytes": q.scanned if done or q.state == "RUNNING" else 0,
                    "TotalExecutionTimeInMillis": elapsed,
                    "QueryQueueTimeInMillis": 0,
                    "ServicePreProcessingTimeInMillis": 0,
                    "QueryPlanningTimeInMillis": 0,
                    "ServiceProcessingTimeInMillis": 0,
                    "ResultReuseInformation": {"ReusedPreviousResult": False},
                },
                "WorkGroup": q.workgroup,
                "EngineVersion": {
                    "SelectedEngineVersion": "AUTO",
                    "EffectiveEngineVersion": "Athena engine version 3",
                },
            }
            if q.statement_type == "DML":
                execution["SubstatementType"] = "SELECT"
            return {"QueryExecution": execution}

    def op_GetQueryResults(self, body, entry):
        q = self.query(body)
        limit = body.get("MaxResults", 1000)
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise invalid("MaxResults must be between 1 and 1000", "INVALID_INPUT")
        with self.lock:
            state, reason, columns, rows = q.state, q.reason, q.columns, q.rows
        if state in NOT_FINAL:
            raise invalid(f"Query has not yet finished. Current state: {state}", "INVALID_INPUT")
        if state == "FAILED":
            raise invalid(reason, "INVALID_INPUT")
        if state == "CANCELLED":
            raise invalid("Query did not finish successfully. Final query state: CANCELLED", "INVALID_INPUT")
        # Like Athena, the header row is the first row of the first page.
        table = ([[c["Name"] for c in columns]] + rows) if columns else []
        start = 0
        if body.get("NextToken"):
            try:
                tid, start = base64.urlsafe_b64decode(body["NextToken"]).decode().rsplit(":", 1)
                start = int(start)
                assert tid == q.id and 0 < start < len(table)
            except Exception:
                raise invalid("The NextToken is not valid", "INVALID_INPUT") from None
        page = table[start : start + limit]
        out = {
            "UpdateCount": 0,
            "ResultSet": {
                "Rows": [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in page],
                "ResultSetMetadata": {"ColumnInfo": columns},
            },
        }
        if start + limit < len(table):
            out["NextToken"] = base64.urlsafe_b64encode(f"{q.id}:{start + limit}".encode()).decode()
        entry.update(rows=len(page), next_token=bool(out.get("NextToken")))
        return out

    def op_StopQueryExecution(self, body, entry):
        q = self.query(body)
        q.cancelled.set()
        self.finish(q, "CANCELLED", "Query was cancelled by user")
        with self.lock:
            if q.cursor is not None:
                q.cursor.interrupt()
        return {}

    def op_GetWorkGroup(self, body, entry):
        name = body.get("WorkGroup")
        if name not in self.workgroups:
            raise invalid(f"WorkGroup {name} is not found.")
        config = {
            "EnforceWorkGroupConfiguration": False,
            "PublishCloudWatchMetricsEnabled": False,
            "RequesterPaysEnabled": False,
            "EngineVersion": {
                "SelectedEngineVersion": "AUTO",
                "EffectiveEngineVersion": "Athena engine version 3",
            },
        }
        if self.workgroups[name]:
            config["ResultConfiguration"] = {"OutputLocation": self.workgroups[name]}
        return {
            "WorkGroup": {
                "Name": name,
                "State": "ENABLED",
                "Configuration": config,
                "Description": "",
                "CreationTime": 1700000000.0,
            }
        }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs expect
    athena = None

    def do_POST(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                raw += self.rfile.read(size)
                self.rfile.readline()
                if size == 0:
                    break
        else:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        region = re.search(r"Credential=[^/]+/\d+/([^/]+)/", self.headers.get("Authorization", ""))
        try:
            if not target.startswith("AmazonAthena."):
                raise ApiError("UnknownOperationException", f"Unknown target {target!r}")
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                raise ApiError("SerializationException", "The request body is not JSON") from None
            result = self.athena.call(
                target.split(".", 1)[1], body, region.group(1) if region else "us-east-1"
            )
            self.reply(200, result)
        except ApiError as e:
            error = {"__type": e.kind, "Message": e.message}
            if e.code:
                error["AthenaErrorCode"] = e.code
            self.reply(400, error)

    def reply(self, status, payload):
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # the --log file is the record
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--table", action="append", default=[], metavar="DB.TABLE=DIR:LAYOUT")
    ap.add_argument("--workgroup", action="append", default=[], metavar="NAME[=s3://out/]")
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--deny", action="append", default=[], metavar="ACTION")
    ap.add_argument("--log")
    args = ap.parse_args()

    tables = {}
    for spec in args.table:
        m = re.fullmatch(r"([^.=]+)\.([^.=]+)=(.+):(account|org)", spec)
        if not m or not os.path.isdir(m.group(3)):
            ap.error(f"--table {spec!r}: want DB.TABLE=DIR:account|org with DIR a folder")
        tables[(m.group(1).lower(), m.group(2).lower())] = (m.group(3), m.group(4))
    workgroups = {"primary": DEFAULT_OUTPUT}
    for spec in args.workgroup:
        name, _, output = spec.partition("=")
        workgroups[name] = output or None

    Handler.athena = Athena(Engine(tables), workgroups, args.delay, set(args.deny), args.log)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True

    def stop(*_):  # shutdown() waits for serve_forever: not from its thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)  # a reader never sees half a number
    server.serve_forever()
    server.server_close()
    with Handler.athena.lock:  # no DuckDB work outlives the process
        for q in Handler.athena.queries.values():
            if q.cursor is not None:
                q.cursor.interrupt()


if __name__ == "__main__":
    main()
