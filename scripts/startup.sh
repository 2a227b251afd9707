#!/usr/bin/env bash
# Start-up time and resident memory of the demo (`tollgate run`, no config file), the way
# issue 17 measures them: a first start with an empty artifact cache, then a later start
# with the cache the first one left. "ready" is the time until GET /hello is answered; RSS
# is read from /proc one second later. Usage: scripts/startup.sh [BINARY] [VAR=value ...]
# (default target/release/tollgate; e.g. TOLLGATE_THP=1 to keep transparent huge pages).
set -euo pipefail
bin=${1:-target/release/tollgate}
shift || true
port=18557
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
for run in first later; do
  t0=$(date +%s.%N)
  env "$@" XDG_CACHE_HOME="$cache" "$bin" run --listen "127.0.0.1:$port" >/dev/null 2>&1 &
  pid=$!
  until curl -s -o /dev/null "http://127.0.0.1:$port/hello"; do
    kill -0 "$pid" 2>/dev/null || { echo "the gateway exited" >&2; exit 1; }
    sleep 0.01
  done
  t1=$(date +%s.%N)
  sleep 1
  status() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$pid/status"; }
  printf '%s start: ready in %.3f s, resident %d KiB (anonymous %d, file %d), peak %d KiB\n' \
    "$run" "$(echo "$t1 - $t0" | bc)" "$(status VmRSS)" "$(status RssAnon)" \
    "$(status RssFile)" "$(status VmHWM)"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
done
