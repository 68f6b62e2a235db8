#!/usr/bin/env python3
"""Compares `kmstop report --format json` (stdin) with a corpus's expected.json.

usage: kmstop report --source CORPUS --format json | check_kmstop.py CORPUS.expected.json
Prints one line, "kmstop check: OK …" or "kmstop check: MISMATCH …", and exits 1 on a mismatch.
"""
import json
import sys

report = json.load(sys.stdin)
expected = json.load(open(sys.argv[1]))
problems = []


def same(what, got, want):
    if got != want:
        problems.append(f"{what}: {got} != {want}")


for field in ("events", "denied", "errors"):
    same(field, report[field], expected[field])
same("duplicates", report["skipped"]["duplicates"], expected["duplicate_records"])
same("event_names", report["event_names"], expected["event_names"])
same("control_plane", len(report["control_plane"]), expected["control_plane"])
principals = {p["principal"]: p for p in report["principals"]}
same("principal set", sorted(principals), sorted(expected["principals"]))
for name, want in expected["principals"].items():
    got = principals.get(name, {})
    for field in ("events", "decrypt", "denied"):
        same(f"{name} {field}", got.get(field), want[field])
    same(f"{name} keys", got.get("keys"), len(want["keys"]))
keys = {k["arn"]: k for k in report["keys"]}
same("key set", sorted(keys), sorted(expected["keys"]))
for arn, want in expected["keys"].items():
    got = keys.get(arn, {})
    for field in ("events", "denied"):
        same(f"{arn} {field}", got.get(field), want[field])
    same(f"{arn} principals", got.get("principals"), len(want["principals"]))

summary = (f"events={report['events']} denied={report['denied']} errors={report['errors']} "
           f"principals={len(principals)} keys={len(keys)}")
if problems:
    print(f"kmstop check: MISMATCH {summary}; " + "; ".join(problems[:5]))
    sys.exit(1)
print(f"kmstop check: OK {summary}, every principal and key row equal")
