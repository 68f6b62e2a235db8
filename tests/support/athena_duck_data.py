"""Athena's data as the stand-in (athena_duck.py) shows it. In: CloudTrail
log files loaded into DuckDB the way Athena's CloudTrail SerDe shows them
(lower-case column names, nested structs, JSON text for the free-form objects,
NULL, never an error nor a lost row, for values of the wrong type). Out: each
result value as the text Athena's GetQueryResults gives.
"""

import codecs
import datetime
import decimal
import gzip
import json
import math
import multiprocessing
import os
import re
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor

import duckdb

# ---------------------------------------------------------------- in: the SerDe

# The SerDe's types, as nested tuples: ("varchar",), ("json",) (a column that
# holds an object's JSON text), ("struct", [(name, type)...]), ("list", type).
V = ("varchar",)
J = ("json",)


def struct(*fields):
    return ("struct", list(fields))


SESSION_ISSUER = struct(("type", V), ("principalid", V), ("arn", V), ("accountid", V), ("username", V))
USER_IDENTITY = struct(
    ("type", V),
    ("principalid", V),
    ("arn", V),
    ("accountid", V),
    ("invokedby", V),
    ("accesskeyid", V),
    ("username", V),
    (
        "sessioncontext",
        struct(
            ("attributes", struct(("mfaauthenticated", V), ("creationdate", V))),
            ("sessionissuer", SESSION_ISSUER),
            ("ec2roledelivery", V),
            ("sourceidentity", V),
        ),
    ),
)
RESOURCE = struct(("arn", V), ("accountid", V), ("type", V))
TLS = struct(("tlsversion", V), ("ciphersuite", V), ("clientprovidedhostheader", V))

# The order of the AWS documentation's CREATE EXTERNAL TABLE.
COLUMNS = [
    ("eventversion", V),
    ("useridentity", USER_IDENTITY),
    ("eventtime", V),
    ("eventsource", V),
    ("eventname", V),
    ("awsregion", V),
    ("sourceipaddress", V),
    ("useragent", V),
    ("errorcode", V),
    ("errormessage", V),
    ("requestparameters", J),
    ("responseelements", J),
    ("additionaleventdata", J),
    ("requestid", V),
    ("eventid", V),
    ("resources", ("list", RESOURCE)),
    ("eventtype", V),
    ("apiversion", V),
    ("readonly", V),
    ("recipientaccountid", V),
    ("serviceeventdetails", J),
    ("sharedeventid", V),
    ("vpcendpointid", V),
    ("eventcategory", V),
    ("tlsdetails", TLS),
]

PARTITIONS = {"account": ["region", "timestamp"], "org": ["account", "region", "timestamp"]}


def duck_type(t):
    if t[0] in ("varchar", "json"):
        return "VARCHAR"
    if t[0] == "list":
        return duck_type(t[1]) + "[]"
    inner = ", ".join(f'"{n}" {duck_type(ft)}' for n, ft in t[1])
    return f"STRUCT({inner})"


def convert(value, t):
    """One JSON value as the SerDe would show it in a column of type t."""
    if value is None:
        return None
    kind = t[0]
    if kind == "varchar":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return json.dumps(value)
        return None  # an object or array where text belongs
    if kind == "json":
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if kind == "list":
        if not isinstance(value, list):
            return None
        return [convert(item, t[1]) for item in value]
    if not isinstance(value, dict):
        return None
    # Hive's JSON SerDe matches field names case-insensitively.
    lower = {k.lower(): v for k, v in value.items()}
    return {name: convert(lower.get(name), ft) for name, ft in t[1]}


def record_row(record, partition_values):
    lower = {k.lower(): v for k, v in record.items()}
    row = {name: convert(lower.get(name), t) for name, t in COLUMNS}
    row.update(partition_values)
    return row


def data_files(root, layout):
    """(path, {partition: value}) for every log file a CloudTrail table over
    `root` would read, in a stable order."""
    out = []
    if layout == "account":
        accounts = [(None, root)]
    else:
        accounts = [(a, os.path.join(root, a)) for a in sorted(os.listdir(root))]
    for account, base in accounts:
        trail = os.path.join(base, "CloudTrail")
        if not os.path.isdir(trail):
            continue
        for dirpath, dirnames, filenames in os.walk(trail):
            dirnames.sort()
            parts = os.path.relpath(dirpath, trail).split(os.sep)
            if len(parts) != 4:  # region/yyyy/mm/dd: where partitions point
                continue
            region, yyyy, mm, dd = parts
            for name in sorted(filenames):
                if name.endswith(".json.gz") or name.endswith(".json"):
                    values = {"region": region, "timestamp": f"{yyyy}/{mm}/{dd}"}
                    if account is not None:
                        values["account"] = account
                    out.append((os.path.join(dirpath, name), values))
    return out


def _fffd(err):
    # Lone surrogates (JSON allows "\ud800") cannot be UTF-8: show U+FFFD.
    return ("\ufffd", err.end)


codecs.register_error("athena_duck_fffd", _fffd)


def convert_files(job):
    """Worker: turns log files into one newline-delimited JSON file of
    ready-made rows (a path DuckDB reads with fixed column types)."""
    files, out_path = job
    count = 0
    with open(out_path, "w", encoding="utf-8", errors="athena_duck_fffd") as out:
        for path, values in files:
            try:
                opener = gzip.open if path.endswith(".gz") else open
                with opener(path, "rb") as f:
                    doc = json.loads(f.read())
                records = doc.get("Records") if isinstance(doc, dict) else None
            except (OSError, EOFError, ValueError) as e:
                print(f"athena_duck: skipping {path}: {e}", file=sys.stderr)
                continue
            if not isinstance(records, list):
                continue
            for record in records:
                if isinstance(record, dict):
                    row = record_row(record, values)
                    out.write(json.dumps(row, ensure_ascii=False))
                    out.write("\n")
                    count += 1
    return count


def load(tables, files_schema):
    """A DuckDB connection holding each table of tables ({(db, table): (root,
    layout)}) as db.table, and each table's files (partition values and
    size, for DataScannedInBytes) as files_schema."db.table"."""
    found = {key: data_files(root, layout) for key, (root, layout) in tables.items()}
    workers = max(1, min(os.cpu_count() or 1, 8))
    with tempfile.TemporaryDirectory(prefix="athena_duck_") as tmp:
        jobs = {}  # key -> [(files, ndjson path)]
        for n, (key, files) in enumerate(found.items()):
            # Interleaved chunks give each worker a similar share of big and small days.
            chunks = [files[i :: workers * 4] for i in range(workers * 4)]
            jobs[key] = [(c, os.path.join(tmp, f"{n}-{i}.ndjson")) for i, c in enumerate(chunks) if c]
        # Forked before DuckDB starts any thread: the workers only parse JSON.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            records = {key: sum(pool.map(convert_files, j)) for key, j in jobs.items()}
        con = duckdb.connect()
        for (db, table), (_, layout) in tables.items():
            insert(con, db, table, PARTITIONS[layout], found[(db, table)], jobs[(db, table)], files_schema)
            print(
                f"athena_duck: {db}.{table}: {records[(db, table)]} records "
                f"from {len(found[(db, table)])} files",
                file=sys.stderr,
            )
    return con


def insert(con, db, table, parts, files, jobs, files_schema):
    cols = [(n, duck_type(t)) for n, t in COLUMNS] + [(p, "VARCHAR") for p in parts]
    ddl = ", ".join(f'"{n}" {t}' for n, t in cols)
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{db}"')
    con.execute(f'CREATE TABLE "{db}"."{table}" ({ddl})')
    pcols = ", ".join(f'"{p}" VARCHAR' for p in parts)
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{files_schema}"')
    con.execute(f'CREATE TABLE "{files_schema}"."{db}.{table}" (path VARCHAR, size BIGINT, {pcols})')
    if not files:
        return
    con.executemany(
        f'INSERT INTO "{files_schema}"."{db}.{table}" VALUES ({", ".join("?" * (len(parts) + 2))})',
        [[p, os.path.getsize(p)] + [v[c] for c in parts] for p, v in files],
    )
    columns = "{" + ", ".join(f"'{n}': '{t}'" for n, t in cols) + "}"
    paths = "[" + ", ".join("'" + p.replace("'", "''") + "'" for _, p in jobs) + "]"
    con.execute(
        f'INSERT INTO "{db}"."{table}" SELECT * FROM read_json({paths}, '
        f"format = 'newline_delimited', columns = {columns}, "
        "maximum_object_size = 1073741824)"
    )


# ---------------------------------------------------------------- out: values as text

TYPES = {
    "VARCHAR": ("varchar", 2147483647),
    "BIGINT": ("bigint", 19),
    "HUGEINT": ("bigint", 19),
    "UBIGINT": ("bigint", 19),
    "INTEGER": ("integer", 10),
    "UINTEGER": ("bigint", 19),
    "SMALLINT": ("smallint", 5),
    "TINYINT": ("tinyint", 3),
    "DOUBLE": ("double", 17),
    "FLOAT": ("real", 7),
    "BOOLEAN": ("boolean", 0),
    "DATE": ("date", 0),
    "TIMESTAMP": ("timestamp", 3),
    "TIMESTAMP WITH TIME ZONE": ("timestamp with time zone", 3),
    "JSON": ("json", 0),
}


def column_info(name, duck_type):
    base = duck_type.split("(")[0]
    kind, precision = TYPES.get(duck_type, TYPES.get(base, ("varchar", 2147483647)))
    if duck_type.endswith("[]"):
        kind, precision = "array", 0
    elif base in ("STRUCT", "MAP"):
        kind, precision = {"STRUCT": "row", "MAP": "map"}[base], 0
    elif base == "DECIMAL":
        kind, precision = "decimal", int(re.findall(r"\d+", duck_type)[0])
    return {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Name": name,
        "Label": name,
        "Type": kind,
        "Precision": precision,
        "Scale": 0,
        "Nullable": "UNKNOWN",
        "CaseSensitive": kind == "varchar",
    }


def java_double(x):
    """Java's Double.toString, as Athena prints doubles: plain between 1e-3 and
    1e7, else scientific (1.7161632E9), with the shortest round-trip digits."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1, x) < 0 else "0.0"
    if 1e-3 <= abs(x) < 1e7:
        return repr(x)
    d = decimal.Decimal(repr(x))
    digits = "".join(map(str, d.as_tuple().digits)).rstrip("0") or "0"
    sign = "-" if x < 0 else ""
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{d.adjusted()}"


def athena_text(v, nested=False):
    if v is None:
        return "null" if nested else None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return java_double(v)
    if isinstance(v, datetime.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(datetime.timezone.utc)
            return v.strftime("%Y-%m-%d %H:%M:%S.") + f"{v.microsecond // 1000:03d} UTC"
        return v.strftime("%Y-%m-%d %H:%M:%S.") + f"{v.microsecond // 1000:03d}"
    if isinstance(v, (datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(athena_text(x, True) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={athena_text(x, True)}" for k, x in v.items()) + "}"
    if isinstance(v, (bytes, bytearray, memoryview)):
        return " ".join(f"{b:02x}" for b in bytes(v))
    return str(v)
