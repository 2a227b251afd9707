#!/usr/bin/env bash
# The whole test suite, on a fresh machine too: installs what the tests need first (the
# wasm targets, and the system programs the end-to-end tests start), then runs the
# gateway's tests and the built-in plugins' own. `.ci/run` calls this same script.
set -euo pipefail
cd "$(dirname "$0")/.."

# The targets the plugins build for (rustup does not add them to an installed toolchain).
rustup target add wasm32-wasip2 wasm32-wasip1

# Installs Debian packages, through sudo when not root.
need_apt() {
  echo "installing what the tests need: $*" >&2
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && apt-get install -y -qq "$@"
  elif command -v sudo >/dev/null; then
    sudo apt-get update -qq && sudo apt-get install -y -qq "$@"
  else
    echo "please install: $* (apt-get install $*)" >&2
    exit 1
  fi
}

# The tests send signals with `kill` (procps), start real Redis servers (redis-server; each
# test runs its own on a free port, without persistence) and the WebSocket chat example's
# backend (a Python 3 script, standard library only).
missing=()
if ! [ -x /bin/kill ] && ! [ -x /usr/bin/kill ]; then missing+=(procps); fi
if ! command -v redis-server >/dev/null; then missing+=(redis-server); fi
if ! command -v python3 >/dev/null; then missing+=(python3); fi
if [ ${#missing[@]} -gt 0 ]; then need_apt "${missing[@]}"; fi

# The plugin-project tests build a plugin in each language with its own toolchain, as a
# user would: Node.js 20 or later with npm (componentize-js and the AssemblyScript compiler
# come from npm, at the versions the templates pin), clang for wasm32-wasi, and componentize-py from PyPI, put in
# a virtual environment under target/ (not the system's Python).
if ! command -v node >/dev/null; then need_apt nodejs; fi
if ! command -v npm >/dev/null; then need_apt npm; fi
node_major="$(node --version | sed 's/^v\([0-9]*\).*/\1/')"
if [ "$node_major" -lt 20 ]; then
  echo "Node.js $(node --version) is too old: componentize-js and AssemblyScript need 20 or later" >&2
  exit 1
fi
# C: clang for wasm32-wasi with its libc and compiler runtime (Debian 12's packages).
if ! echo 'int f(void){return 0;}' | clang --target=wasm32-wasi -mexec-model=reactor \
    -x c - -o /dev/null 2>/dev/null; then
  need_apt clang lld wasi-libc libclang-rt-14-dev-wasm32
fi
tools="$PWD/target/tools/python"
if ! [ -x "$tools/bin/componentize-py" ]; then
  python3 -m venv "$tools" 2>/dev/null || { need_apt python3-venv && python3 -m venv "$tools"; }
  "$tools/bin/pip" install --quiet componentize-py==0.25.0
fi
export PATH="$tools/bin:$PATH"

# One full build: incremental compilation would only add its caches (1.6 GB) to the disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
cargo test --workspace
cargo test --manifest-path plugins/Cargo.toml
