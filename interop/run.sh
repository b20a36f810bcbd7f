#!/usr/bin/env bash
# The interop suite: keepalive judged by real OpenClaw releases (docs/GATEWAY.md).
# Installs Node 24 and the pinned releases (interop/releases.txt) into a cache that later
# runs reuse, builds keepalive, then runs every check in interop/tests/ with
# Node's own test runner. Arguments are passed to `node --test` (e.g. --test-name-pattern).
# Fails, never skips, when something it needs cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in python3 npm jq; do
  command -v "$tool" >/dev/null || { echo "interop: $tool is required (see README, 'Interop suite')" >&2; exit 1; }
done

export KEEPALIVE_INTEROP_CACHE="${KEEPALIVE_INTEROP_CACHE:-$HOME/.cache/keepalive-interop}"
bash interop/install.sh
node_version="$(sed -n 's/^node=//p' interop/releases.txt)"
node="$KEEPALIVE_INTEROP_CACHE/node-$node_version/node"

# The dev profile by default: right after `cargo test` (as in CI) it is already built, and
# nothing here measures speed. KEEPALIVE_INTEROP_PROFILE=release for release binaries.
profile="${KEEPALIVE_INTEROP_PROFILE:-dev}"
out_dir="$([ "$profile" = dev ] && echo debug || echo "$profile")"
echo "== cargo build --locked --profile $profile (keepalived, keepalivectl, keepalive-oracle)"
cargo build --locked --profile "$profile" -p keepalive -p keepalive-oracle
export KEEPALIVE_BIN_DIR="${KEEPALIVE_BIN_DIR:-$PWD/target/$out_dir}"

echo "== interop checks with $("$node" --version) against: $(sed -n 's/^release=//p' interop/releases.txt | tr '\n' ' ')"
exec "$node" --test --test-concurrency=1 --test-reporter=spec "$@" 'interop/tests/*.test.mjs'
