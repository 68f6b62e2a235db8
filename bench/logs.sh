#!/usr/bin/env bash
# Benchmarks `kmstop report --source logs://…` (FilterLogEvents, paced to
# its 5 requests a second) against the simulator's trail log group, with
# the peers in the same run: the same window through LookupEvents
# (`report --source aws`, 2 requests a second), and the AWS CLI paging
# `filter-log-events` with the same filter pattern (fetch only, nothing
# counted). Checks first that both kmstop paths count the same events.
# Writes bench/results/logs.md.
#
# env: KMSTOP   kmstop binary (default: <repo>/target/release/kmstop)
#      WINDOW   minutes of history read (default 20)
#      RUNS     hyperfine runs (default 3)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
KMSTOP=${KMSTOP:-$repo/target/release/kmstop}
WINDOW=${WINDOW:-20}
RUNS=${RUNS:-3}
results=$here/results
mkdir -p "$results"

[[ -x $KMSTOP ]] || { echo "no kmstop binary at $KMSTOP (cargo build --release)" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "hyperfine is missing (bench/report.sh installs it)" >&2; exit 1; }
command -v aws >/dev/null || python3 -m pip install -q awscli >&2

# shellcheck source=bench/sim.sh
source "$here/sim.sh"
start_sim --regions us-east-1 --delay 1s..5s

group=aws-cloudtrail-logs-111122223333
since=$(date -u -d "-$((WINDOW + 5)) min" +%Y-%m-%dT%H:%M:00Z)
until=$(date -u -d "-5 min" +%Y-%m-%dT%H:%M:00Z)
since_ms=$(( $(date -u -d "$since" +%s) * 1000 ))
until_ms=$(( $(date -u -d "$until" +%s) * 1000 ))
window="--region us-east-1 --endpoint-url $endpoint --since $since --until $until --format json"
logs_cmd="$KMSTOP report --source logs://$group $window"
aws_cmd="$KMSTOP report --source aws $window"
cli_cmd="aws --endpoint-url $endpoint logs filter-log-events --log-group-name $group --filter-pattern '{ (\$.eventSource = \"kms.amazonaws.com\") }' --start-time $since_ms --end-time $until_ms --output json"

# Same events first: the log group and LookupEvents count alike.
logs_events=$($logs_cmd | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
aws_events=$($aws_cmd | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
[[ $logs_events == "$aws_events" ]] || { echo "logs:// counted $logs_events events, LookupEvents $aws_events" >&2; exit 1; }
cli_events=$(eval "$cli_cmd" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["events"]))')

hyperfine --warmup 0 --runs "$RUNS" --export-markdown "$scratch/times.md" \
  -n "kmstop report --source logs://" "$logs_cmd >/dev/null" \
  -n "kmstop report --source aws (LookupEvents)" "$aws_cmd >/dev/null" \
  -n "aws logs filter-log-events (fetch only)" "$cli_cmd >/dev/null" >&2

{
  echo "# report --source logs:// against the simulator's trail log group"
  echo
  echo "$(date -u +%Y-%m-%d) UTC, $(nproc) cores, a ${WINDOW}-minute window: $logs_events KMS events"
  echo "(both kmstop paths count the same; the AWS CLI fetched $cli_events log events)."
  echo
  cat "$scratch/times.md"
} >"$results/logs.md"
cat "$results/logs.md"
