#!/usr/bin/env bash
# Instructions per request, counted by valgrind's callgrind: repeatable for the same binary
# and inputs whatever else the machine is doing, so an A/B of two builds needs no rounds.
#
#   scripts/instructions.sh BINARY CONFIG URL N PATH...
#
# Starts BINARY on CONFIG under callgrind (its backends must already run), warms each PATH
# with 300 requests, then counts N requests (h2load, 8 connections) and prints the
# instructions per request for each PATH. Extra request headers: H2LOAD_HEADERS, e.g.
# H2LOAD_HEADERS="-H origin:https://a.example". Needs valgrind and nghttp2-client (h2load).
# Under valgrind the plugin instance pool cannot reserve its address space: the gateway
# allocates instances on demand (as it logs), and compiles built-ins for valgrind's CPU.
set -euo pipefail
[ $# -ge 5 ] || { sed -n 2,12p "$0"; exit 2; }
BIN=$1; CONFIG=$2; URL=$3; N=$4; shift 4
OUT=$(mktemp -d)
valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.out" "$BIN" run --no-watch -c "$CONFIG" \
  > "$OUT/gateway.log" 2>&1 &
VP=$!
trap 'kill -TERM $VP 2>/dev/null || true; rm -rf "$OUT"' EXIT
for _ in $(seq 600); do curl -s -o /dev/null "$URL/" && break; sleep 0.2; done
# shellcheck disable=SC2086 # the headers are meant to split into arguments
for P in "$@"; do
  h2load --h1 -n 300 -c 8 ${H2LOAD_HEADERS:-} "$URL$P" > /dev/null
  callgrind_control -z $VP > /dev/null 2>&1
  h2load --h1 -n "$N" -c 8 ${H2LOAD_HEADERS:-} "$URL$P" | grep -q "succeeded, 0 failed" \
    || echo "$P: some requests failed" >&2
  rm -f "$OUT"/cg.out.*
  callgrind_control -d $VP > /dev/null 2>&1
  ir=$(grep -h -E "^(summary|totals):" "$OUT"/cg.out.* | head -1 | awk '{print $2}')
  echo "$P $((ir / N))"
done
