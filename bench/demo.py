#!/usr/bin/env python3
"""Benchmarks `kmstop demo` as a newcomer runs it, in a tmux terminal at
160x45 (the simulator runs inside the process, so its work is counted):

1. first full frame: from launching the command to the first screen with
   the DEMO header and rows in the Principals, Keys and Events panes
   (target: within 2 s); and to the end of the first scan (both regions
   ok, alerts firing: the alert engine waits until every region has been
   read up to a time);
2. cost at the default speed: CPU share of one core and RSS of the process
   (targets: < 2 %, < 60 MB) in the first minute, the second, and the
   third and fourth (steady: the hour of backfill is read by ~2.5 min);
3. the same over a minute at --speed 10, for information.

Writes a markdown summary to bench/results/demo.md.

env: KMSTOP  the kmstop binary (default target/release/kmstop)
     RUNS    how many starts to time (default 5)
     MINUTE  seconds in a "minute" of measurement (default 60)
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
KMSTOP = os.environ.get("KMSTOP", os.path.join(REPO, "target", "release", "kmstop"))
RUNS = int(os.environ.get("RUNS", "5"))
MINUTE = int(os.environ.get("MINUTE", "60"))
CLK_TCK = os.sysconf("SC_CLK_TCK")
SOCKET = f"kmstop-bench-demo-{os.getpid()}"


def tmux(*args):
    return subprocess.run(
        ["tmux", "-L", SOCKET, "-f", "/dev/null", *args],
        capture_output=True, text=True, check=False,
    ).stdout


def full_frame(screen):
    """Every data pane has rows: a principal, a key, an event."""
    return (
        "DEMO" in screen
        and "role/" in screen
        and "alias/" in screen
        and re.search(r"\d\d:\d\d:\d\d +(Decrypt|GenerateDataKey|Encrypt)", screen) is not None
    )


def first_scan_done(screen):
    """Both regions read up to now once: health ok, the alerts evaluated."""
    return "us-east-1 ok" in screen and "eu-west-1 ok" in screen and "FIRING" in screen


def start(home, *args):
    cmd = (f"exec env HOME={home} KMSTOP_CONFIG_DIR={home}/config {KMSTOP} demo --seed 7 "
           + " ".join(args))
    t0 = time.monotonic()
    tmux("new-session", "-d", "-s", "s", "-x", "160", "-y", "45", cmd)
    pid = None
    while pid is None and time.monotonic() - t0 < 5:
        out = tmux("display-message", "-p", "-t", "s", "#{pane_pid}").strip()
        if out.isdigit() and os.path.basename(os.readlink(f"/proc/{out}/exe")) == "kmstop":
            pid = int(out)
        else:
            time.sleep(0.005)
    if pid is None:
        sys.exit("kmstop demo did not start")
    return t0, pid


def quit_demo():
    tmux("send-keys", "-t", "s", "q")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and tmux("list-sessions"):
        time.sleep(0.05)
    tmux("kill-server")


def first_frame(home):
    """Seconds to the first full frame and to the end of the first scan."""
    t0, _ = start(home)
    frame = None
    while True:
        screen = tmux("capture-pane", "-p", "-t", "s")
        elapsed = time.monotonic() - t0
        if frame is None and full_frame(screen):
            frame = elapsed
        if frame is not None and first_scan_done(screen):
            break
        if elapsed > 30:
            quit_demo()
            sys.exit("no full frame within 30 s:\n" + screen)
        time.sleep(0.01)
    quit_demo()
    return frame, elapsed


def proc_stats(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    return cpu, hwm / 1024, rss / 1024


def cost(home, minutes, *args):
    """CPU share of one core and RSS for each minute after start."""
    t0, pid = start(home, *args)
    out = []
    cpu_prev, _, _ = proc_stats(pid)
    wall_prev = time.monotonic()
    for _ in range(minutes):
        time.sleep(max(0.0, wall_prev + MINUTE - time.monotonic()))
        cpu, hwm, rss = proc_stats(pid)
        wall = time.monotonic()
        out.append(((cpu - cpu_prev) / (wall - wall_prev), hwm, rss))
        cpu_prev, wall_prev = cpu, wall
    screen = tmux("capture-pane", "-p", "-t", "s")
    quit_demo()
    return out, screen.splitlines()[:2]


def main():
    if not shutil.which("tmux"):
        sys.exit("tmux is required (apt-get install tmux)")
    home = tempfile.mkdtemp(prefix="kmstop-bench-demo-")
    try:
        starts = [first_frame(home) for _ in range(RUNS)]
        default, header = cost(home, 4)
        fast, fast_header = cost(home, 1, "--speed", "10")
    finally:
        tmux("kill-server")
        shutil.rmtree(home, ignore_errors=True)
    frames = sorted(f for f, _ in starts)
    scans = sorted(s for _, s in starts)
    steady = (default[2][0] + default[3][0]) / 2

    def pct(x):
        return f"{100 * x:.2f} %"

    lines = [
        "# kmstop demo", "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, `{KMSTOP}`, "
        "tmux 160x45, `kmstop demo --seed 7`", "",
        "| what | measured | target |", "|---|---|---|",
        f"| first full frame (DEMO header, rows in Principals, Keys, Events), {RUNS} starts "
        f"| median {frames[len(frames) // 2]:.2f} s, max {frames[-1]:.2f} s | ≤ 2 s |",
        f"| first scan done (both regions ok, alerts firing), {RUNS} starts "
        f"| median {scans[len(scans) // 2]:.2f} s, max {scans[-1]:.2f} s | — |",
        f"| CPU, minute 1 (backfill of the hour, the incident) | {pct(default[0][0])} of one core | < 2 % |",
        f"| CPU, minute 2 (backfill) | {pct(default[1][0])} of one core | < 2 % |",
        f"| CPU, minutes 3-4 (steady) | {pct(steady)} of one core | < 2 % |",
        "| RSS after minutes 1 / 2 / 3 / 4 | "
        + " / ".join(f"{m[2]:.1f}" for m in default)
        + f" MB (peak {default[-1][1]:.1f} MB) | < 60 MB |",
        f"| `--speed 10`, first minute: CPU, peak RSS | {pct(fast[0][0])}, {fast[0][1]:.1f} MB | — |",
        "",
        "Header after four minutes at the default speed:", "", "```", *header, "```", "",
        "After a minute at --speed 10:", "", "```", *fast_header, "```",
    ]
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "demo.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
