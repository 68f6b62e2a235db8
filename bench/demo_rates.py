#!/usr/bin/env python3
"""Are the live dashboard's rates true? Runs the dashboard as `kmstop demo`
runs it (the simulator with the demo's delivery delays, 2 s to 1 min,
seed 7, both regions) in a 220x150 tmux, reads the header's ev/s and the
Principals pane's 1m/5m/15m columns every SAMPLE seconds from minute 2 on,
then asks the simulator — with boto3, a client we did not write — for every
event it ever served, and compares each reading with the true rate at the
second the frame shows (events whose eventTime lies in the last 1, 5 or
15 minutes before it; kmstop's own reads left out, as the dashboard does).

Target (issue 11): ev/s and the 1m/5m/15m rates within 10 % of the true
rates after the first minute. Writes bench/results/demo_rates.md.

env: KMSTOP   kmstop binary (default target/release/kmstop)
     MINUTES  minutes to watch (default 10)
     SAMPLE   seconds between readings (default 20)
"""

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
KMSTOP = os.environ.get("KMSTOP", os.path.join(REPO, "target", "release", "kmstop"))
MINUTES = int(os.environ.get("MINUTES", "10"))
SAMPLE = int(os.environ.get("SAMPLE", "20"))
SOCKET = f"kmstop-bench-rates-{os.getpid()}"
REGIONS = ["us-east-1", "eu-west-1"]
NUM = r"(~?[\d.]+k?|~?–)"


def tmux(*args):
    return subprocess.run(
        ["tmux", "-L", SOCKET, "-f", "/dev/null", *args],
        capture_output=True, text=True, check=False,
    ).stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def number(text):
    text = text.lstrip("~")
    if text == "–":
        return 0.0
    scale = 1000.0 if text.endswith("k") else 1.0
    return float(text.rstrip("k")) * scale


def read_frame(screen):
    """The frame's time, ev/s and the Principals rows' 1m/5m/15m."""
    header = re.search(r"ev/s (~?[\d.]+).*?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", screen)
    if not header:
        return None
    at = datetime.strptime(header.group(2), "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    rows = {}
    in_table = False
    for line in screen.splitlines():
        if "principal" in line and "calls" in line and "15m" in line:
            in_table = True
            continue
        if in_table:
            if line.startswith(("┗", "└", "╰")):
                break
            m = re.match(r"[┃│]\s*(\S+)\s+(\S+)\s+" + NUM + r"\s+" + NUM + r"\s+" + NUM + r"\s", line)
            if m:
                rows[m.group(1)] = tuple(number(m.group(i)) for i in (3, 4, 5))
    title = re.search(r"Principals (\d+)", screen)
    # A frame whose table does not show every principal cannot be summed.
    if not rows or not title or len(rows) != int(title.group(1)):
        return None
    own = re.search(r"(\d+) own left out", screen)
    return {
        "at": at, "evs": number(header.group(1)), "rows": rows,
        "estimated": "~" in header.group(1), "own": int(own.group(1)) if own else 0,
    }


def all_events(endpoint, since, until):
    import boto3
    from botocore.config import Config

    events = []
    lock = threading.Lock()

    def region(name):
        client = boto3.client(
            "cloudtrail", region_name=name, endpoint_url=endpoint,
            aws_access_key_id="x", aws_secret_access_key="x",
            config=Config(retries={"mode": "standard", "max_attempts": 20}),
        )
        pages = client.get_paginator("lookup_events").paginate(
            LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "kms.amazonaws.com"}],
            StartTime=since, EndTime=until,
        )
        import json
        got = []
        for page in pages:
            for e in page["Events"]:
                record = json.loads(e["CloudTrailEvent"])
                got.append(record)
        with lock:
            events.extend(got)

    threads = [threading.Thread(target=region, args=(r,)) for r in REGIONS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return events


def own_read(record):
    """kmstop's own successful reads, which the dashboard leaves out."""
    arn = (record.get("userIdentity") or {}).get("arn") or ""
    return "kmstop-reader" in arn and not record.get("errorCode") and "kmstop" in (record.get("userAgent") or "")


def main():
    if not os.access(KMSTOP, os.X_OK):
        sys.exit(f"no kmstop binary at {KMSTOP}: cargo build --release")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    sim = subprocess.Popen(
        [KMSTOP, "sim", "--port", str(port), "--seed", "7", "--delay", "2s..1m",
         "--regions", ",".join(REGIONS)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        first = sim.stdout.readline()
        if "kmstop sim" not in first:
            sys.exit(f"the simulator did not start: {first!r}")
        home = tempfile.mkdtemp(prefix="kmstop-rates-")
        cmd = (
            f"env AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_EC2_METADATA_DISABLED=true HOME={home} "
            f"KMSTOP_CONFIG_DIR={home}/config {KMSTOP} --endpoint-url {endpoint} --region {','.join(REGIONS)}"
        )
        tmux("new-session", "-d", "-s", "s", "-x", "220", "-y", "150", cmd)
        started = time.time()
        frames = []
        next_at = started + 120
        skipped = 0
        while time.time() < started + 60 * MINUTES:
            time.sleep(max(0.0, next_at - time.time()))
            next_at += SAMPLE
            frame = read_frame(tmux("capture-pane", "-p", "-t", "s"))
            if frame:
                frames.append(frame)
            else:
                skipped += 1
        tmux("send-keys", "-t", "s", "q")
        time.sleep(2)
        tmux("kill-server")
        if not frames:
            sys.exit("no frame could be read")
        # Every event of the last frame is visible a minute after it.
        time.sleep(65)
        first = min(f["at"] for f in frames)
        last = max(f["at"] for f in frames)
        events = all_events(endpoint, first - timedelta(minutes=16), last + timedelta(seconds=1))
    finally:
        sim.terminate()
        sim.wait()

    times = sorted(
        datetime.strptime(e["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        for e in events if not own_read(e)
    )
    own = sum(1 for e in events if own_read(e))

    def true_per_min(at, minutes):
        lo = at - timedelta(minutes=minutes)
        n = sum(1 for t in times if lo < t <= at)
        return n / minutes

    out = []
    errors = {"ev/s": [], "1m": [], "5m": [], "15m": []}
    out.append("| frame (UTC) | ev/s shown | true | 1m Σ shown | true | 5m Σ | true | 15m Σ | true |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for f in frames:
        shown = [sum(r[i] for r in f["rows"].values()) for i in range(3)]
        truth = [true_per_min(f["at"], m) for m in (1, 5, 15)]
        evs_true = truth[0] / 60
        errors["ev/s"].append((f["evs"] - evs_true) / evs_true)
        for name, s, t in zip(("1m", "5m", "15m"), shown, truth):
            errors[name].append((s - t) / t)
        out.append(
            f"| {f['at']:%H:%M:%S} | {'~' if f['estimated'] else ''}{f['evs']:.1f} | {evs_true:.2f} | "
            + " | ".join(f"{s:.1f} | {t:.1f}" for s, t in zip(shown, truth))
            + " |"
        )
    summary = ["| rate | median error | worst error | readings within 10 % |", "|---|---:|---:|---:|"]
    for name, errs in errors.items():
        within = sum(1 for e in errs if abs(e) <= 0.10)
        worst = max(errs, key=abs)
        summary.append(
            f"| {name} | {statistics.median(errs) * 100:+.1f} % | {worst * 100:+.1f} % | {within}/{len(errs)} |"
        )
    report = "\n".join(
        [
            "# Live rates against the simulator's truth",
            "",
            f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ}, {os.cpu_count()} cores, kmstop=`{KMSTOP}`; "
            f"{len(frames)} frames from minute 2 to {MINUTES}, every {SAMPLE} s; "
            f"{skipped} frames not read (a table not showing every principal, or caught mid-draw); "
            f"{len(times)} events served from 16 minutes before the first frame, and {own} of kmstop's "
            f"own reads left out of the truth (the dashboard's last frame: {frames[-1]['own']} own left out).",
            "",
            *summary,
            "",
            "Rates are per minute, summed over the Principals rows; the truth counts eventTime in the",
            "minutes before the frame's second, whether or not CloudTrail had made the event visible yet.",
            "",
            *out,
            "",
        ]
    )
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "demo_rates.md"), "w") as fh:
        fh.write(report)
    print(report)


if __name__ == "__main__":
    main()
