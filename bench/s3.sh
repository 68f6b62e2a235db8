#!/usr/bin/env bash
# Benchmarks `kmstop report --source s3://…` against the same files on
# local disk and against the peer a user would reach for — `aws s3 cp
# --recursive` to a scratch directory, then `kmstop report` on the copy —
# all over loopback from `kmstop sim --bucket`, in the same run. Also
# measures each one's peak RSS. Writes bench/results/s3.md.
#
# env: KMSTOP  kmstop binary (default: <repo>/target/release/kmstop)
#      CORPUS  corpus dir (default /tmp/kmstop-bench/corpus; made by
#              bench/report.sh, or generated here with seed 42)
#      RUNS    hyperfine runs (default 5)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
KMSTOP=${KMSTOP:-$repo/target/release/kmstop}
CORPUS=${CORPUS:-/tmp/kmstop-bench/corpus}
RUNS=${RUNS:-5}
results=$here/results
mkdir -p "$results"

[[ -x $KMSTOP ]] || { echo "no kmstop binary at $KMSTOP (cargo build --release)" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "hyperfine is missing (bench/report.sh installs it)" >&2; exit 1; }
command -v aws >/dev/null || python3 -m pip install -q awscli >&2
if [[ ! -d $CORPUS/AWSLogs ]]; then
  mkdir -p "$CORPUS"
  (cd "$repo" && cargo run -q --release --example gen_corpus -- --out "$CORPUS" --seed 42)
fi

# shellcheck source=bench/sim.sh
source "$here/sim.sh"
# The trail's files only: what a trail bucket holds.
start_sim --bucket "trail=$CORPUS"

local_cmd="$KMSTOP report --source $CORPUS/AWSLogs --format json"
s3_cmd="$KMSTOP report --source s3://trail --endpoint-url $endpoint --format json"
copy_cmd="rm -rf $scratch/copy && aws --endpoint-url $endpoint s3 cp --recursive --only-show-errors s3://trail/AWSLogs $scratch/copy && $KMSTOP report --source $scratch/copy --format json"

# Same answer first: the S3 report is the local one but for the digest files
# it never lists.
$local_cmd | python3 -c 'import json,sys; r=json.load(sys.stdin); r["files_read"]-=r["skipped"]["digest_files"]; r["skipped"]["digest_files"]=0; print(json.dumps(r, sort_keys=True))' >"$scratch/local.json"
$s3_cmd | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))' >"$scratch/s3.json"
cmp -s "$scratch/local.json" "$scratch/s3.json" || { echo "the S3 report differs from the local one" >&2; exit 1; }
events=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events"])' "$scratch/s3.json")

hyperfine --warmup 1 --runs "$RUNS" --export-markdown "$scratch/times.md" \
  -n "report, local files" "$local_cmd >/dev/null" \
  -n "report --source s3://" "$s3_cmd >/dev/null" \
  -n "aws s3 cp --recursive + report" "$copy_cmd >/dev/null" >&2

rss() { /usr/bin/time -f %M bash -c "$1 >/dev/null" 2>&1 | tail -1; }
rss_local=$(rss "$local_cmd")
rss_s3=$(rss "$s3_cmd")

{
  echo "# report over S3 — $(date -u +%F)"
  echo
  echo "$events KMS events in $(find "$CORPUS/AWSLogs" -type f | wc -l) objects, served on loopback by \`kmstop sim --bucket\`; $(nproc) cores."
  echo
  cat "$scratch/times.md"
  echo
  echo "| peak RSS | MB |"
  echo "|---|---:|"
  echo "| report, local files | $((rss_local / 1024)) |"
  echo "| report --source s3:// | $((rss_s3 / 1024)) |"
} >"$results/s3.md"
cat "$results/s3.md"
