#!/usr/bin/env python3
"""boto3 against kmstop's loopback AWS simulator: a client nobody on the
project wrote must read exactly what the simulator says it holds.

Usage: boto3_conformance.py ENDPOINT TRUTH.json

TRUTH.json (written by tests/sim_boto3.rs from the simulator's ground
truth and world) holds the region, a LookupEvents window and its event ids
newest first, the account, the reader's ARN, the region's keys (with their
expected rotation answer) and alias names, and the trail's bucket with the
ids of every event its delivered objects hold for the region. Exit 0 when boto3 agrees, 1 with
one line per disagreement otherwise.
"""

import gzip
import json
import sys
from datetime import datetime, timezone

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def client(service, endpoint, region):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 10, "mode": "standard"}),
    )


def lookup(endpoint, truth, problems):
    ct = client("cloudtrail", endpoint, truth["region"])
    pages = ct.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "kms.amazonaws.com"}],
        StartTime=datetime.fromtimestamp(truth["start"], tz=timezone.utc),
        EndTime=datetime.fromtimestamp(truth["end"], tz=timezone.utc),
        PaginationConfig={"PageSize": 50},
    )
    ids = []
    for page in pages:
        if len(page["Events"]) > 50:
            problems.append(f"a page of {len(page['Events'])} events")
        for event in page["Events"]:
            record = json.loads(event["CloudTrailEvent"])
            if record["eventID"] != event["EventId"]:
                problems.append(f"EventId {event['EventId']} but record eventID {record['eventID']}")
            if record["awsRegion"] != truth["region"]:
                problems.append(f"event {event['EventId']} from region {record['awsRegion']}")
            ids.append(event["EventId"])
    if ids != truth["event_ids"]:
        missing = set(truth["event_ids"]) - set(ids)
        extra = set(ids) - set(truth["event_ids"])
        problems.append(
            f"lookup_events read {len(ids)} events, the simulator holds {len(truth['event_ids'])} "
            f"({len(missing)} missing, {len(extra)} extra, order equal: {sorted(ids) == sorted(truth['event_ids'])})"
        )
    return len(ids)


def kms_checks(endpoint, truth, problems):
    kms = client("kms", endpoint, truth["region"])
    arns = set()
    for page in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 5}):
        arns.update(k["KeyArn"] for k in page["Keys"])
    want = {k["arn"] for k in truth["keys"]}
    if arns != want:
        problems.append(f"list_keys: {sorted(arns ^ want)} differ")
    for key in truth["keys"]:
        meta = kms.describe_key(KeyId=key["arn"])["KeyMetadata"]
        for field, expected in (("KeyId", key["id"]), ("KeyState", key["state"]), ("KeySpec", key["key_spec"])):
            if meta.get(field) != expected:
                problems.append(f"describe_key {key['arn']}: {field} {meta.get(field)!r}, want {expected!r}")
        expected = key["rotation"]
        try:
            status = kms.get_key_rotation_status(KeyId=key["id"])
            got = {"enabled": status["KeyRotationEnabled"], "period": status.get("RotationPeriodInDays")}
        except ClientError as e:
            got = {"error": e.response["Error"]["Code"]}
        if got != expected:
            problems.append(f"get_key_rotation_status {key['arn']}: {got}, want {expected}")
    names = set()
    for page in kms.get_paginator("list_aliases").paginate(PaginationConfig={"PageSize": 4}):
        names.update(a["AliasName"] for a in page["Aliases"])
    if names != set(truth["aliases"]):
        problems.append(f"list_aliases: {sorted(names ^ set(truth['aliases']))} differ")
    return len(arns), len(names)


def trail_checks(endpoint, truth, problems):
    """The trail's bucket: folders by delimiter, every object of the region
    by small pages, each gzip JSON, holding every event exactly once."""
    s3 = client("s3", endpoint, truth["region"])
    bucket = truth["trail_bucket"]
    s3.head_bucket(Bucket=bucket)
    top = s3.list_objects_v2(Bucket=bucket, Prefix="AWSLogs/", Delimiter="/")
    folders = [p["Prefix"] for p in top.get("CommonPrefixes", [])]
    if folders != [f"AWSLogs/{truth['account']}/"]:
        problems.append(f"AWSLogs/ folders: {folders}")
    prefix = f"AWSLogs/{truth['account']}/CloudTrail/{truth['region']}/"
    ids = []
    objects = 0
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": 2}
    )
    for page in pages:
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            if len(body) != obj["Size"]:
                problems.append(f"{obj['Key']}: listed {obj['Size']} bytes, got {len(body)}")
            records = json.loads(gzip.decompress(body))["Records"]
            ids.extend(r["eventID"] for r in records)
            objects += 1
    if len(ids) != len(set(ids)) or set(ids) != set(truth["trail_event_ids"]):
        problems.append(
            f"the trail holds {len(ids)} events ({len(set(ids))} distinct), "
            f"the simulator {len(truth['trail_event_ids'])}"
        )
    try:
        s3.get_object(Bucket=bucket, Key=prefix + "missing.json.gz")
        problems.append("get_object of a missing key succeeded")
    except ClientError as e:
        if e.response["Error"]["Code"] != "NoSuchKey":
            problems.append(f"missing key: {e.response['Error']['Code']}")
    return objects, len(ids)


def sts_checks(endpoint, truth, problems):
    me = client("sts", endpoint, truth["region"]).get_caller_identity()
    if me["Account"] != truth["account"] or me["Arn"] != truth["reader_arn"]:
        problems.append(f"get_caller_identity: {me['Account']} {me['Arn']}")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    endpoint, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        truth = json.load(f)
    problems = []
    events = lookup(endpoint, truth, problems)
    keys, aliases = kms_checks(endpoint, truth, problems)
    sts_checks(endpoint, truth, problems)
    objects, trail_events = trail_checks(endpoint, truth, problems)
    for p in problems:
        print(f"boto3 disagrees: {p}")
    print(
        f"boto3 {boto3.__version__}: {events} events, {keys} keys, {aliases} aliases, "
        f"{objects} trail objects with {trail_events} events; {len(problems)} problem(s)"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
