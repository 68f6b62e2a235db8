#!/usr/bin/env python3
"""Benchmarks the live AWS path against the loopback simulator, with peers
measured in the same run:

1. sweep throughput: `kmstop report --source aws` over two regions, events/s
   per region against LookupEvents' ceiling (2 requests/s x 50 events) and
   against boto3's own `lookup_events` paginator (standard retry mode) on
   the same window;
2. latency: how long after an event becomes visible `kmstop tail` prints it
   (target: poll interval + 1 s);
3. idle cost: CPU share and peak RSS of `kmstop tail` and of the live
   dashboard (in tmux) on a quiet account over a minute (targets: < 1 %
   CPU, < 50 MB);
4. the trail path: `kmstop tail` on an account making RATE KMS events a
   second in one region, with the trail beside LookupEvents and, as the
   peer, LookupEvents alone: events/s printed and CPU per 1 000 events/s
   (targets: >= 20x LookupEvents' ceiling, < 1 % of a core per 1 000/s).

Writes a markdown summary to bench/results/live.md.

env: KMSTOP  the kmstop binary (default target/release/kmstop)
     WINDOW  minutes of history to sweep (default 20)
     IDLE    seconds of idle measurement (default 60)
     PARTS   which parts to run (default "sweep,latency,idle,dashboard,trail")
     RATE    events/s of the trail part's account (default 2500)
     STEADY  seconds the trail part measures (default 120)
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
KMSTOP = os.environ.get("KMSTOP", os.path.join(REPO, "target", "release", "kmstop"))
WINDOW = int(os.environ.get("WINDOW", "20"))
IDLE = int(os.environ.get("IDLE", "60"))
PARTS = os.environ.get("PARTS", "sweep,latency,idle,dashboard,trail").split(",")
RATE = int(os.environ.get("RATE", "2500"))
STEADY = int(os.environ.get("STEADY", "120"))
ALL_PARTS = 5
ENV = dict(
    os.environ,
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_EC2_METADATA_DISABLED="true",
    HOME="/tmp/kmstop-bench-home",
)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sim(*args):
    port = free_port()
    sim = subprocess.Popen(
        [KMSTOP, "sim", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
    )
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return sim, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    sim.kill()
    sys.exit("the simulator did not start")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def sweep(endpoint, regions, since, until):
    t0 = time.monotonic()
    out = subprocess.run(
        [KMSTOP, "report", "--source", "aws", "--endpoint-url", endpoint,
         "--region", regions, "--since", iso(since), "--until", iso(until),
         "--format", "json"],
        capture_output=True, text=True, env=ENV, check=True,
    )
    elapsed = time.monotonic() - t0
    events = json.loads(out.stdout)["events"]
    return events, elapsed


def boto3_sweep(endpoint, since, until):
    import boto3  # noqa: PLC0415 (only this step needs it)

    client = boto3.client(
        "cloudtrail", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="bench", aws_secret_access_key="bench",
    )
    t0 = time.monotonic()
    n = 0
    pages = client.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "kms.amazonaws.com"}],
        StartTime=since, EndTime=until,
    )
    for page in pages:
        n += len(page["Events"])
    return n, time.monotonic() - t0


def latency(endpoint, poll=5, delay=2, seconds=60):
    """Runs tail with a fixed delivery delay: an event is visible at
    eventTime + delay, so arrival - (eventTime + delay) is the latency."""
    tail = subprocess.Popen(
        [KMSTOP, "tail", "--endpoint-url", endpoint, "--region", "us-east-1",
         "--backfill", "0s", "--poll-interval", f"{poll}s"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=ENV,
    )
    lags = []
    start = time.time()

    def read():
        for line in tail.stdout:
            arrived = time.time()
            ev = json.loads(line)
            t = datetime.strptime(ev["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
            visible = t.timestamp() + delay
            # eventTime has whole seconds, so this overstates the latency
            # by up to 1 s: the conservative side.
            if visible > start + poll:
                lags.append(arrived - visible)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(seconds)
    stop(tail)
    reader.join(timeout=5)
    lags.sort()
    return lags


def proc_stats(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    with open(f"/proc/{pid}/status") as f:
        hwm = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))
    return cpu, hwm


def idle(endpoint):
    tail = subprocess.Popen(
        [KMSTOP, "tail", "--endpoint-url", endpoint, "--region", "us-east-1", "--backfill", "0s"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV,
    )
    time.sleep(5)  # start-up (credentials, first scans) is not idle
    cpu0, _ = proc_stats(tail.pid)
    t0 = time.monotonic()
    time.sleep(IDLE)
    cpu1, hwm = proc_stats(tail.pid)
    wall = time.monotonic() - t0
    stop(tail)
    return (cpu1 - cpu0) / wall, hwm / 1024


def main():
    lines = ["# Live path against the simulator", "",
             f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, `{KMSTOP}`", ""]

    if "sweep" in PARTS:
        run_sweep(lines)
    if "latency" in PARTS:
        run_latency(lines)
    if "idle" in PARTS:
        run_idle(lines)
    if "dashboard" in PARTS:
        run_dashboard_idle(lines)
    if "trail" in PARTS:
        run_trail(lines)
    text = "\n".join(lines) + "\n"
    name = "live.md" if len(PARTS) == ALL_PARTS else f"live-{'-'.join(PARTS)}.md"
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", name), "w") as f:
        f.write(text)
    print(text)


def run_sweep(lines):
    sim, endpoint = start_sim("--delay", "1s..2s", "--regions", "us-east-1,eu-west-1")
    try:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        since, until = now - timedelta(minutes=WINDOW + 2), now - timedelta(minutes=2)
        one, one_t = sweep(endpoint, "us-east-1", since, until)
        other, _ = sweep(endpoint, "eu-west-1", since, until)
        both, both_t = sweep(endpoint, "us-east-1,eu-west-1", since, until)
        rate = one / one_t
        lines += [
            f"## Sweep: `report --source aws`, {WINDOW} min window",
            "",
            f"- one region (us-east-1): {one} events in {one_t:.1f} s = **{rate:.1f} events/s**, "
            f"{rate:.0f} % of the 2 x 50 events/s ceiling (target >= 90 %), process start and "
            f"credentials included",
            f"- two regions in parallel: {both} events in {both_t:.1f} s; the larger region alone "
            f"needs {max(one, other) / 100:.1f} s at the ceiling",
        ]
        per_region = rate
        try:
            n, t = boto3_sweep(endpoint, since, until)
            lines.append(
                f"- boto3 `lookup_events` paginator (standard retries), one region, same window: "
                f"{n} events in {t:.1f} s = {n / t:.1f} events/s; kmstop's rate is "
                f"{per_region / (n / t):.2f}x boto3's"
            )
        except ImportError:
            lines.append("- boto3 not installed: peer not measured")
    finally:
        stop(sim)


def run_latency(lines):
    sim, endpoint = start_sim("--delay", "2s..2s", "--regions", "us-east-1")
    try:
        lags = latency(endpoint)
        if lags:
            p50 = lags[len(lags) // 2]
            p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
            lines += ["", "## Latency: visible -> printed by `kmstop tail --poll-interval 5s`", "",
                      f"- {len(lags)} events: median {p50:.1f} s, p99 {p99:.1f} s, max {lags[-1]:.1f} s "
                      f"(target <= poll interval + 1 s = 6 s)"]
    finally:
        stop(sim)


def run_idle(lines):
    sim, endpoint = start_sim("--scenario", "quiet", "--regions", "us-east-1")
    try:
        cpu, rss = idle(endpoint)
        lines += ["", f"## Idle: `kmstop tail` on a quiet account for {IDLE} s", "",
                  f"- CPU {cpu * 100:.2f} % of one core (target < 1 %), peak RSS {rss:.1f} MB (target < 50 MB)"]
    finally:
        stop(sim)


def dashboard_idle(endpoint):
    """The live dashboard in a private tmux server (it needs a terminal)."""
    sock = f"kmstop-bench-{os.getpid()}"
    tmux = ["tmux", "-L", sock, "-f", "/dev/null"]
    env = " ".join(f"{k}={v}" for k, v in ENV.items() if k.startswith("AWS_") or k == "HOME")
    cmd = f"env {env} {KMSTOP} --endpoint-url {endpoint} --region us-east-1"
    subprocess.run(tmux + ["new-session", "-d", "-s", "b", "-x", "160", "-y", "45", cmd], check=True)
    try:
        pid = None
        deadline = time.time() + 20
        while pid is None and time.time() < deadline:
            out = subprocess.run(["pgrep", "-f", f"{KMSTOP} --endpoint-url {endpoint}"],
                                 capture_output=True, text=True).stdout.split()
            # The shell tmux starts matches too: keep the kmstop process.
            mine = [int(p) for p in out
                    if os.path.realpath(f"/proc/{p}/exe") == os.path.realpath(KMSTOP)]
            pid = mine[0] if mine else None
            time.sleep(0.2)
        if pid is None:
            sys.exit("the dashboard did not start")
        time.sleep(10)  # identity, backfill, first frames: not idle
        cpu0, _ = proc_stats(pid)
        t0 = time.monotonic()
        time.sleep(IDLE)
        cpu1, hwm = proc_stats(pid)
        wall = time.monotonic() - t0
        return (cpu1 - cpu0) / wall, hwm / 1024
    finally:
        subprocess.run(tmux + ["kill-server"], check=False)


def run_dashboard_idle(lines):
    sim, endpoint = start_sim("--scenario", "quiet", "--regions", "us-east-1")
    try:
        cpu, rss = dashboard_idle(endpoint)
        lines += ["", f"## Idle: the live dashboard (`kmstop`, in tmux) on a quiet account for {IDLE} s", "",
                  f"- CPU {cpu * 100:.2f} % of one core (target < 1 %), peak RSS {rss:.1f} MB (target < 50 MB)"]
    finally:
        stop(sim)


def busy_tail(endpoint, trail):
    """`kmstop tail` over a busy region for STEADY seconds after a start-up
    minute: events printed per second, its CPU share and peak RSS, and how
    long after its event time each event was printed (the union's
    staleness: with the trail, at most one delivery interval plus its lag
    and the read)."""
    tail = subprocess.Popen(
        [KMSTOP, "tail", "--endpoint-url", endpoint, "--region", "us-east-1",
         "--backfill", "0s", "--trail", trail],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=ENV,
    )
    count = [0]
    measuring = [False]
    ages = []

    def read():
        for line in tail.stdout:
            count[0] += 1
            if measuring[0]:
                event_time = json.loads(line)["time"]
                at = datetime.strptime(event_time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
                ages.append(time.time() - at.timestamp())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    # Start-up, and the first trail objects (delivered every 20 s, 5 s late).
    time.sleep(60)
    cpu0, _ = proc_stats(tail.pid)
    n0, t0 = count[0], time.monotonic()
    measuring[0] = True
    time.sleep(STEADY)
    measuring[0] = False
    cpu1, hwm = proc_stats(tail.pid)
    n1, wall = count[0], time.monotonic() - t0
    stop(tail)
    ages.sort()
    return (n1 - n0) / wall, (cpu1 - cpu0) / wall, hwm / 1024, ages


def quantile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def run_trail(lines):
    sim, endpoint = start_sim("--scenario", "busy", "--busy-rate", str(RATE), "--regions", "us-east-1",
                              "--delay", "1s..3s", "--trail-every", "20s", "--trail-lag", "5s")
    try:
        union, union_cpu, union_rss, ages = busy_tail(endpoint, "auto")
        alone, alone_cpu, _, _ = busy_tail(endpoint, "off")
    finally:
        stop(sim)
    ceiling = 100.0
    per_k = union_cpu * 100 / (union / 1000) if union else float("nan")
    lines += ["", f"## The trail path: `kmstop tail` on an account making {RATE} KMS events/s in one region", "",
              f"- with the trail (`--trail auto`, objects every 20 s, 5 s late): **{union:.0f} events/s** printed "
              f"= {union / ceiling:.1f}x LookupEvents' ceiling of {ceiling:.0f}/s (target >= 20x), "
              f"CPU {union_cpu * 100:.1f} % of one core = **{per_k:.2f} % per 1 000 events/s** (target < 1 %), "
              f"peak RSS {union_rss:.0f} MB; printing every event as JSON included",
              f"- printed how long after its event time (the union's staleness; one delivery interval plus "
              f"its lag is 25 s): median {quantile(ages, 0.5):.1f} s, p99 {quantile(ages, 0.99):.1f} s, "
              f"max {quantile(ages, 1.0):.1f} s over {len(ages)} events",
              f"- peer, LookupEvents alone (`--trail off`): {alone:.0f} events/s, CPU {alone_cpu * 100:.1f} %",
              f"- over {STEADY} s after a minute of start-up"]


if __name__ == "__main__":
    main()
