#!/usr/bin/env bash
# The whole test suite, on a fresh machine too: installs what the tests need first (the
# wasm targets, and the system programs the end-to-end tests start), then runs the
# gateway's tests and the built-in plugins' own. `.ci/run` calls this same script.
set -euo pipefail
cd "$(dirname "$0")/.."

# The targets the plugins build for (rustup does not add them to an installed toolchain).
rustup target add wasm32-wasip2 wasm32-wasip1

# The tests send signals with `kill` (procps), start real Redis servers (redis-server; each
# test runs its own on a free port, without persistence) and the WebSocket chat example's
# backend (a Python 3 script, standard library only).
missing=()
if ! [ -x /bin/kill ] && ! [ -x /usr/bin/kill ]; then missing+=(procps); fi
if ! command -v redis-server >/dev/null; then missing+=(redis-server); fi
if ! command -v python3 >/dev/null; then missing+=(python3); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing what the tests need: ${missing[*]}" >&2
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${missing[@]}"
  elif command -v sudo >/dev/null; then
    sudo apt-get update -qq && sudo apt-get install -y -qq "${missing[@]}"
  else
    echo "please install: ${missing[*]} (apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

# One full build: incremental compilation would only add its caches (1.6 GB) to the disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
cargo test --workspace
cargo test --manifest-path plugins/Cargo.toml
