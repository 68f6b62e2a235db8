#!/usr/bin/env python3
"""boto3 against kmstop's loopback AWS simulator: a client nobody on the
project wrote must read exactly what the simulator says it holds.

Usage: boto3_conformance.py ENDPOINT TRUTH.json [live-tail]

TRUTH.json (written by tests/sim_boto3.rs from the simulator's ground
truth and world) holds the region, a LookupEvents window and its event ids
newest first, the account, the reader's ARN, the region's keys (with their
expected rotation answer) and alias names, the trail's bucket with the
ids of every event its delivered objects hold for the region, and the
trail's CloudWatch Logs group (name, ARN, home region, ingestion lag) with
the ids of every event it holds. Exit 0 when boto3 agrees, 1 with one line
per disagreement otherwise.

With `live-tail`, only a StartLiveTail session is read (the test advances
the simulator's clock meanwhile): sessionStart, then updates until one
carries events.
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


def logs_client(endpoint, region):
    # StartLiveTail's endpoint has a host prefix ("streaming-"): against a
    # loopback endpoint it must not be prepended.
    return boto3.client(
        "logs",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 10, "mode": "standard"}, inject_host_prefix=False),
    )


def check_log_event(event, truth, problems):
    """One log event as FilterLogEvents or Live Tail shows it; its record."""
    record = json.loads(event["message"])
    stream = f"{truth['account']}_CloudTrail_{record['awsRegion']}"
    if event["logStreamName"] != stream:
        problems.append(f"event {record['eventID']} in stream {event['logStreamName']}, want {stream}")
    event_time = datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    if event["timestamp"] != int(event_time.timestamp() * 1000):
        problems.append(f"event {record['eventID']}: timestamp {event['timestamp']} but eventTime {record['eventTime']}")
    if event["ingestionTime"] - event["timestamp"] != truth["log_lag_ms"]:
        problems.append(f"event {record['eventID']}: ingested {event['ingestionTime'] - event['timestamp']} ms late")
    return record


def logs_checks(endpoint, truth, problems):
    """The trail's log group: the whole group in small pages, interleaved in
    time order, every event exactly once; a filter pattern; an unknown group."""
    logs = logs_client(endpoint, truth["log_region"])
    ids = []
    last = 0
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=truth["log_group"], PaginationConfig={"PageSize": 25}
    )
    page_count = 0
    for page in pages:
        page_count += 1
        if len(page["events"]) > 25:
            problems.append(f"a page of {len(page['events'])} events")
        for event in page["events"]:
            record = check_log_event(event, truth, problems)
            if event["timestamp"] < last:
                problems.append(f"event {record['eventID']} out of time order")
            last = event["timestamp"]
            ids.append(record["eventID"])
    if len(ids) != len(set(ids)) or set(ids) != set(truth["log_event_ids"]):
        problems.append(
            f"filter_log_events read {len(ids)} events ({len(set(ids))} distinct) in {page_count} pages, "
            f"the simulator holds {len(truth['log_event_ids'])}"
        )
    decrypts = []
    for page in logs.get_paginator("filter_log_events").paginate(
        logGroupIdentifier=truth["log_group_arn"],
        filterPattern='{ $.eventName = "Decrypt" && $.eventSource = "kms.amazonaws.com" }',
        PaginationConfig={"PageSize": 100},
    ):
        decrypts.extend(json.loads(e["message"])["eventID"] for e in page["events"])
    if sorted(decrypts) != sorted(truth["log_decrypt_ids"]):
        problems.append(f"filter pattern: {len(decrypts)} Decrypt events, want {len(truth['log_decrypt_ids'])}")
    try:
        logs.filter_log_events(logGroupName="no-such-group", limit=5)
        problems.append("filter_log_events of an unknown group succeeded")
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            problems.append(f"unknown group: {e.response['Error']['Code']}")
    ct = client("cloudtrail", endpoint, truth["log_region"])
    trails = ct.describe_trails()["trailList"]
    arns = [t.get("CloudWatchLogsLogGroupArn") for t in trails]
    if arns != [truth["log_group_arn"] + ":*"] or not trails[0].get("CloudWatchLogsRoleArn"):
        problems.append(f"describe_trails: CloudWatchLogsLogGroupArn {arns}")
    return len(ids), page_count


def live_tail(endpoint, truth, problems):
    """A Live Tail session: sessionStart first, then updates until one
    carries events (the test moves the simulator's clock meanwhile)."""
    logs = logs_client(endpoint, truth["log_region"])
    response = logs.start_live_tail(logGroupIdentifiers=[truth["log_group_arn"]])
    stream = response["responseStream"]
    started = False
    updates = 0
    events = 0
    for message in stream:
        if "sessionStart" in message:
            start = message["sessionStart"]
            if started or updates:
                problems.append("sessionStart is not the first event")
            if start.get("logGroupIdentifiers") != [truth["log_group_arn"]] or not start.get("sessionId"):
                problems.append(f"sessionStart: {start}")
            started = True
            print("sessionStart", flush=True)
        elif "sessionUpdate" in message:
            if not started:
                problems.append("sessionUpdate before sessionStart")
            updates += 1
            update = message["sessionUpdate"]
            if "sampled" not in update.get("sessionMetadata", {}):
                problems.append(f"sessionUpdate without sessionMetadata.sampled: {update.get('sessionMetadata')}")
            results = update.get("sessionResults", [])
            for event in results:
                check_log_event(event, truth, problems)
                if event["logGroupIdentifier"] != truth["log_group_arn"]:
                    problems.append(f"live tail event from {event['logGroupIdentifier']}")
            events += len(results)
            if results:
                break
            if updates > 120:
                problems.append("120 live tail updates and no event")
                break
        else:
            problems.append(f"unexpected live tail message {sorted(message)}")
    stream.close()
    if not started:
        problems.append("no sessionStart")
    return updates, events


def sts_checks(endpoint, truth, problems):
    me = client("sts", endpoint, truth["region"]).get_caller_identity()
    if me["Account"] != truth["account"] or me["Arn"] != truth["reader_arn"]:
        problems.append(f"get_caller_identity: {me['Account']} {me['Arn']}")


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    endpoint, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        truth = json.load(f)
    problems = []
    if sys.argv[3:] == ["live-tail"]:
        updates, events = live_tail(endpoint, truth, problems)
        for p in problems:
            print(f"boto3 disagrees: {p}")
        print(f"boto3 {boto3.__version__}: live tail {updates} updates, {events} events; {len(problems)} problem(s)")
        return 1 if problems else 0
    events = lookup(endpoint, truth, problems)
    keys, aliases = kms_checks(endpoint, truth, problems)
    sts_checks(endpoint, truth, problems)
    objects, trail_events = trail_checks(endpoint, truth, problems)
    log_events, log_pages = logs_checks(endpoint, truth, problems)
    for p in problems:
        print(f"boto3 disagrees: {p}")
    print(
        f"boto3 {boto3.__version__}: {events} events, {keys} keys, {aliases} aliases, "
        f"{objects} trail objects with {trail_events} events, "
        f"a log group of {log_events} events in {log_pages} pages; {len(problems)} problem(s)"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
