#!/usr/bin/env bash
# Runs each cargo-fuzz target for SECONDS (default 60) on top of the committed seeds.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# New inputs a run finds go to fuzz/work/<target>/ (ignored by git), so the committed
# corpus in fuzz/corpus/<target>/ only changes when someone copies inputs there on
# purpose. A crash stops that target, leaves its input in fuzz/artifacts/<target>/, and
# makes this script exit non-zero after the remaining targets ran.
#
# cargo-fuzz needs nightly-only compiler flags (-Zsanitizer, sancov). With no nightly
# toolchain this script builds on stable with RUSTC_BOOTSTRAP=1; set FUZZ_TOOLCHAIN=nightly
# to use a nightly toolchain instead. FUZZ_SANITIZER (default address) is passed to
# `cargo fuzz run --sanitizer`.
set -euo pipefail

cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(request_parser store_patch)
fi

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
    exit 2
fi

toolchain=()
if [ -n "${FUZZ_TOOLCHAIN:-}" ]; then
    toolchain=("+${FUZZ_TOOLCHAIN}")
else
    export RUSTC_BOOTSTRAP=1
fi

failed=()
for target in "${targets[@]}"; do
    mkdir -p "work/$target" "corpus/$target"
    echo "== $target: ${seconds}s" >&2
    if ! cargo "${toolchain[@]}" fuzz run --sanitizer "${FUZZ_SANITIZER:-address}" \
        "$target" "work/$target" "corpus/$target" \
        -- -max_total_time="$seconds" -print_final_stats=1; then
        failed+=("$target")
    fi
done

if [ ${#failed[@]} -ne 0 ]; then
    echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
