#!/usr/bin/env bash
# Shows that kmstop's memory stays flat as events grow: runs `kmstop report`
# on the bench corpus (1×) and a 10× corpus, reporting time and peak RSS.
# env: KMSTOP (default <repo>/target/release/kmstop; KMSTOP=true = dry run),
#      SEED (42), RUNS (3). Writes bench/results/scale.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
crate=$repo
[[ -f $crate/Cargo.toml ]] || crate=$repo/synth
KMSTOP=${KMSTOP:-$repo/target/release/kmstop}
SEED=${SEED:-42}
RUNS=${RUNS:-3}
mkdir -p "$here/results"
[[ -x /usr/bin/time ]] || { apt-get update -q && apt-get install -y -q time; } >&2
if [[ $KMSTOP != true && ! -x $KMSTOP ]]; then
  echo "no kmstop binary at $KMSTOP (build it, or KMSTOP=true for a dry run)" >&2
  exit 1
fi

gen() { # dir scale
  [[ -f $1.expected.json ]] && return
  [[ -e $1/AWSLogs ]] && { echo "$1 has AWSLogs but no expected.json; remove it" >&2; exit 1; }
  mkdir -p "$1"
  (cd "$crate" && cargo run -q --release --example gen_corpus -- --out "$1" --seed "$SEED" --scale "$2")
}

measure() { # dir -> "best_seconds max_rss_kb"
  local best= rss=0 out t r
  for ((i = 0; i < RUNS; i++)); do
    out=$(/usr/bin/time -f '%e %M' "$KMSTOP" report --source "$1" --format json 2>&1 >/dev/null | tail -1)
    read -r t r <<<"$out"
    if [[ -z $best ]] || awk -v a="$t" -v b="$best" 'BEGIN{exit !(a < b)}'; then best=$t; fi
    ((r > rss)) && rss=$r
  done
  echo "$best $rss"
}

rows=()
for spec in "1 /tmp/kmstop-bench/corpus" "10 /tmp/kmstop-bench/corpus10"; do
  read -r scale dir <<<"$spec"
  gen "$dir" "$scale"
  events=$(jq .events "$dir.expected.json")
  gz_mb=$(find "$dir" -type f -name '*.gz' -print0 | du -cm --files0-from=- | tail -1 | cut -f1)
  read -r secs rss <<<"$(measure "$dir")"
  rate=$(awk -v e="$events" -v s="$secs" 'BEGIN{ if (s > 0) printf "%.0f", e / s; else print "n/a" }')
  rows+=("| ${scale}× | $events | $gz_mb | $secs | $rate | $((rss / 1024)) |")
done

{
  echo "# kmstop scaling ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, best of $RUNS)"
  echo
  echo "| corpus | KMS events | MB gz | time (s) | events/s | peak RSS (MB) |"
  echo "|---|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
} | tee "$here/results/scale.md"
