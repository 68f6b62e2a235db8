#!/usr/bin/env bash
# Benchmarks `kmstop report` against DuckDB, a jq pipeline and the
# decompression floor on a synthetic CloudTrail corpus, then measures
# kmstop's peak RSS. Writes a markdown summary to bench/results/latest.md.
#
# Two floors: `floor` inflates every file with libdeflate on every core in
# one process (examples/inflate_floor.rs, nothing parsed: the floor issue
# 15 measures against); `floor-procs` runs one `libdeflate-gunzip` per 64
# files, mostly process start-up. `kmstop-count` is the report with every
# rule disabled (counting only).
#
# env: KMSTOP   kmstop binary (default: <repo>/target/release/kmstop;
#               KMSTOP=true gives a dry run of everything else)
#      PREVIOUS another kmstop binary timed beside it (optional)
#      CORPUS   corpus dir (default /tmp/kmstop-bench/corpus; generated
#               with seed $SEED if it has no expected.json)
#      SEED     default 42;  SCALE  default 1 (only used when generating)
#      RUNS     hyperfine runs (default 5);  SKIP_JQ=1 drops the slow jq run
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
crate=$repo
[[ -f $crate/Cargo.toml ]] || crate=$repo/synth   # scratch layout
KMSTOP=${KMSTOP:-$repo/target/release/kmstop}
CORPUS=${CORPUS:-/tmp/kmstop-bench/corpus}
SEED=${SEED:-42}
SCALE=${SCALE:-1}
RUNS=${RUNS:-5}
results=$here/results
mkdir -p "$results"

install_tools() {
  local missing=()
  command -v hyperfine >/dev/null || missing+=(hyperfine)
  command -v libdeflate-gunzip >/dev/null || missing+=(libdeflate-tools)
  command -v jq >/dev/null || missing+=(jq)
  [[ -x /usr/bin/time ]] || missing+=(time)
  if ((${#missing[@]})); then
    local sudo=; [[ $(id -u) -eq 0 ]] || sudo=sudo
    echo "installing: ${missing[*]}" >&2
    $sudo apt-get update -q >&2
    $sudo apt-get install -y -q "${missing[@]}" >&2
  fi
  python3 -c 'import duckdb' 2>/dev/null || python3 -m pip install -q duckdb >&2
}

ensure_corpus() {
  [[ -f $CORPUS.expected.json ]] && return
  [[ -e $CORPUS/AWSLogs ]] && { echo "$CORPUS has AWSLogs but no expected.json; remove it" >&2; exit 1; }
  echo "generating corpus in $CORPUS (seed $SEED, scale $SCALE)" >&2
  mkdir -p "$CORPUS"
  (cd "$crate" && cargo run -q --release --example gen_corpus -- --out "$CORPUS" --seed "$SEED" --scale "$SCALE")
}

if [[ $KMSTOP != true && ! -x $KMSTOP ]]; then
  echo "no kmstop binary at $KMSTOP (build it, or KMSTOP=true for a dry run)" >&2
  exit 1
fi
install_tools
ensure_corpus

stats=$(dirname "$CORPUS")/$(basename "$CORPUS").stats
if [[ ! -f $stats || $stats -ot $CORPUS.expected.json ]]; then
  gz_mb=$(find "$CORPUS" -type f -name '*.gz' -print0 | du -cm --files0-from=- | tail -1 | cut -f1)
  raw_mb=$(find "$CORPUS" -path '*/CloudTrail/*' -not -path '*Digest*' \( -name '*.json.gz' -o -name '*.json' \) -print0 |
    xargs -0 zcat -f | wc -c | awk '{printf "%d", $1 / 1048576}')
  files=$(find "$CORPUS" -type f | wc -l)
  echo "gz_mb=$gz_mb raw_mb=$raw_mb files=$files" >"$stats"
fi
# shellcheck disable=SC1090
source "$stats"
events=$(jq .events "$CORPUS.expected.json")
logs=$(jq .files_written "$CORPUS.expected.json")

echo "== correctness (untimed)" >&2
python3 "$here/duckdb_report.py" "$CORPUS" --check "$CORPUS.expected.json" | tee "$results/checks.txt"
if [[ ${SKIP_JQ:-0} != 1 ]]; then
  "$here/jq_report.sh" "$CORPUS" --check "$CORPUS.expected.json" | tee -a "$results/checks.txt"
fi
if [[ $KMSTOP != true ]]; then
  "$KMSTOP" report --source "$CORPUS" --format json |
    python3 "$here/check_kmstop.py" "$CORPUS.expected.json" | tee -a "$results/checks.txt"
fi

echo "== timing" >&2
floor_procs="find '$CORPUS' -name '*.json.gz' -print0 | xargs -0 -P $(nproc) -n 64 libdeflate-gunzip -c > /dev/null"
(cd "$crate" && cargo build --release --quiet --example inflate_floor)
floor="'$crate/target/release/examples/inflate_floor' '$CORPUS' > /dev/null"
no_rules=$(mktemp --suffix .toml)
trap 'rm -f "$no_rules"' EXIT
if [[ $KMSTOP != true ]]; then
  "$KMSTOP" rules --format json |
    jq -r '.[] | "[[override]]\nid = \"\(.id)\"\nenabled = false\n"' >"$no_rules"
fi
cmds=(-n kmstop "$KMSTOP report --source '$CORPUS' --format json > /dev/null"
      -n kmstop-count "$KMSTOP report --source '$CORPUS' --rules '$no_rules' --format json > /dev/null"
      -n duckdb "python3 '$here/duckdb_report.py' '$CORPUS'"
      -n floor "$floor"
      -n floor-procs "$floor_procs")
[[ -z ${PREVIOUS:-} ]] || cmds+=(-n previous "$PREVIOUS report --source '$CORPUS' --format json > /dev/null")
[[ ${SKIP_JQ:-0} == 1 ]] || cmds+=(-n jq "'$here/jq_report.sh' '$CORPUS' > /dev/null")
json=$results/hyperfine-$(date -u +%Y%m%dT%H%M%SZ).json
hyperfine --warmup 1 --runs "$RUNS" --export-json "$json" "${cmds[@]}" >&2

echo "== peak RSS" >&2
rss_kb() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}'; }
kmstop_rss=$(rss_kb "$KMSTOP" report --source "$CORPUS" --format json)
duckdb_rss=$(rss_kb python3 "$here/duckdb_report.py" "$CORPUS")

{
  echo "# kmstop report benchmark"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, kmstop=\`$KMSTOP\`"
  echo
  echo "Corpus \`$CORPUS\`: $events distinct KMS events, $logs log files ($files files in total), ${gz_mb} MB compressed, ${raw_mb} MB JSON."
  echo
  jq -r --arg krss "$kmstop_rss" --arg drss "$duckdb_rss" '
    (.results | map({key: .command, value: .mean}) | from_entries) as $m |
    "| tool | mean (s) | ± (s) | min (s) | time / kmstop | peak RSS |",
    "|---|---:|---:|---:|---:|---:|",
    (.results[] | "| \(.command) | \(.mean * 1000 | round / 1000) | \(.stddev // 0 | . * 1000 | round / 1000) | \(.min * 1000 | round / 1000) | \(if $m.kmstop > 0 then (.mean / $m.kmstop * 100 | round / 100 | tostring) + "×" else "n/a" end) | \(if .command == "kmstop" then ($krss | tonumber / 1024 | round | tostring) + " MB" elif .command == "duckdb" then ($drss | tonumber / 1024 | round | tostring) + " MB" else "" end) |"),
    "",
    "kmstop vs duckdb: \(if $m.kmstop > 0 then ($m.duckdb / $m.kmstop * 10 | round / 10 | tostring) + "× faster" else "n/a" end); kmstop vs floor (libdeflate on every core, one process): \(if $m.floor > 0 then ($m.kmstop / $m.floor * 10 | round / 10 | tostring) + "× the floor with alerts, " + ($m["kmstop-count"] / $m.floor * 10 | round / 10 | tostring) + "× counting only" else "n/a" end)\(if $m.jq then "; jq pipeline: " + ($m.jq / ($m.kmstop | if . > 0 then . else 1 end) * 10 | round / 10 | tostring) + "× kmstop" else "" end)."
  ' "$json"
  echo
  echo "Checks:"
  echo
  sed 's/^/    /' "$results/checks.txt"
} | tee "$results/latest.md"
