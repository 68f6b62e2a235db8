#!/usr/bin/env bash
# The file dashboard's load time and peak memory over a corpus:
#   bench/file_dashboard.sh BINARY [DIR]
# Starts `BINARY --source DIR` in a detached 160x45 tmux, waits until the
# header says "file(s) read" (at most 10 minutes), then prints the time,
# the peak RSS (VmHWM) and the RSS at that moment.
set -euo pipefail
BIN=${1:?usage: bench/file_dashboard.sh BINARY [DIR]}
DIR=${2:-/tmp/k1}
command -v tmux >/dev/null || { echo "tmux is needed" >&2; exit 1; }
tmux kill-session -t kmstop-fd 2>/dev/null || true
start=$(date +%s.%N)
tmux new-session -d -s kmstop-fd -x 160 -y 45 "$BIN --source $DIR"
sleep 0.5
pid=$(pgrep -n -f "$BIN --source $DIR")
for _ in $(seq 1 6000); do
    tmux capture-pane -p -t kmstop-fd | grep -q "file(s) read" && break
    sleep 0.1
done
end=$(date +%s.%N)
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
echo "load $(echo "$end - $start" | bc) s, peak $((hwm / 1024)) MB, now $((rss / 1024)) MB"
tmux kill-session -t kmstop-fd
