# Sourced by the bench scripts: a scratch directory removed on exit, and
# `start_sim ARGS…`, which starts `$KMSTOP sim --port 0 ARGS…` on a free
# loopback port, sets `$endpoint` (and `$sim`, its pid, stopped on exit),
# and gives every AWS client after it fake credentials and no config.

scratch=$(mktemp -d)
sim_out=$scratch/sim.out
cleanup() { [[ -n ${sim:-} ]] && kill "$sim" 2>/dev/null; rm -rf "$scratch"; }
trap cleanup EXIT

start_sim() {
  "$KMSTOP" sim --port 0 "$@" >"$sim_out" 2>&1 &
  sim=$!
  for _ in $(seq 200); do
    endpoint=$(grep -o 'http://127.0.0.1:[0-9]*' "$sim_out" | head -1 || true)
    [[ -n $endpoint ]] && break
    sleep 0.1
  done
  [[ -n ${endpoint:-} ]] || { echo "the simulator did not start:"; cat "$sim_out"; exit 1; } >&2
  export AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
}
