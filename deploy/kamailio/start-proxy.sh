#!/usr/bin/env bash
# Start Kamailio in the foreground in front of phone-bridge workers.
#   deploy/kamailio/start-proxy.sh PROXY_ADDR:PORT WORKER_ADDR:PORT [WORKER_ADDR:PORT ...]
# e.g. deploy/kamailio/start-proxy.sh 127.0.0.1:5060 127.0.0.1:5071 127.0.0.1:5072
# Environment: RUN_DIR (default: a temporary directory), FR_TIMER (ms before a silent worker is
# skipped, default 2000), PING_INTERVAL (seconds between OPTIONS probes, default 2).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 PROXY_ADDR:PORT WORKER_ADDR:PORT [WORKER_ADDR:PORT ...]" >&2
  exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
kamailio_bin="$(command -v kamailio || echo /usr/sbin/kamailio)"
[ -x "$kamailio_bin" ] || { echo "kamailio not found: apt-get install kamailio" >&2; exit 1; }
proxy="$1"; shift
run_dir="${RUN_DIR:-$(mktemp -d -t cascade-kamailio.XXXXXX)}"
mkdir -p "$run_dir"
: > "$run_dir/dispatcher.list"
for worker in "$@"; do
  echo "1 sip:$worker 0 0" >> "$run_dir/dispatcher.list"
done
exec "$kamailio_bin" -f "$here/kamailio.cfg" -DD -E -m 64 -M 8 \
  -Y "$run_dir" -P "$run_dir/kamailio.pid" -w "$run_dir" \
  -A "LISTEN=udp:$proxy" -A "DS_LIST=\"$run_dir/dispatcher.list\"" \
  -A "FR_TIMER=${FR_TIMER:-2000}" -A "PING_INTERVAL=${PING_INTERVAL:-2}"
