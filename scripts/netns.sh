#!/usr/bin/env bash
# A private network namespace for WebRTC tests: ICE will not pair on 127.0.0.1 alone, so the
# server and the browser run inside a namespace with a veth pair (both ends inside it) on
# documentation addresses (RFC 5737). Nothing in it can reach the host's networks or the internet.
#   scripts/netns.sh up NAME [ADDR]    create (default ADDR 192.0.2.1/24 on rtc0); idempotent
#   scripts/netns.sh down NAME         delete it and everything in it
#   scripts/netns.sh exec NAME CMD...  run a command inside it
# Needs root (or CAP_NET_ADMIN).
set -euo pipefail
cmd=${1:?usage: netns.sh up|down|exec NAME ...}
name=${2:?namespace name required}
case "$cmd" in
  up)
    addr=${3:-192.0.2.1/24}
    ip netns list | grep -qw "^$name" && exit 0
    ip netns add "$name"
    trap 'ip netns delete "$name" 2>/dev/null' ERR
    ip -n "$name" link set lo up
    # created inside the namespace, so the host never sees these interfaces
    ip -n "$name" link add rtc0 type veth peer name rtc1
    ip -n "$name" addr add "$addr" dev rtc0
    ip -n "$name" link set rtc0 up
    ip -n "$name" link set rtc1 up
    ;;
  down)
    # processes still inside keep it alive; the caller stops its own first
    ip netns delete "$name" 2>/dev/null || true
    ;;
  exec)
    shift 2
    exec ip netns exec "$name" "$@"
    ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
