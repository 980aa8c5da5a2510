#!/usr/bin/env bash
# Start N phone-bridge workers (one process each) on consecutive ports, in the foreground.
#   deploy/kamailio/start-workers.sh N FIRST_PORT [extra 'cascade phone' options...]
# e.g. deploy/kamailio/start-workers.sh 2 5071 --factory myapp.agent:phone_pipeline
# Ctrl-C (or SIGTERM) stops them all. Each worker gets its own RTP port range.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 N FIRST_PORT [cascade phone options...]" >&2
  exit 2
fi
count="$1"; first="$2"; shift 2
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait; }
trap cleanup EXIT INT TERM
for ((i = 0; i < count; i++)); do
  port=$((first + i))
  rtp_low=$((20000 + i * 1000)); rtp_high=$((rtp_low + 998))
  cascade phone --port "$port" --rtp-ports "$rtp_low-$rtp_high" "$@" &
  pids+=("$!")
done
wait -n
