#!/usr/bin/env bash
# Fuzz the patch engine (fuzz/fuzz_targets/engine.rs; the property is in
# tests/fuzz_check/mod.rs) with cargo-fuzz on the nightly toolchain.
#
#   scripts/fuzz.sh [SECONDS] [-- LIBFUZZER ARGS...]
#
# SECONDS defaults to 1800 (30 minutes). Seeds: testdata/cases/*/input.yaml
# and testdata/tingyunagent.yaml, each behind every first byte that selects
# a useful edit combination. Findings land in fuzz/artifacts/engine/; replay
# one with `cargo +nightly fuzz run -s none engine FILE`, minimise it with
# `cargo +nightly fuzz tmin -s none engine FILE`, then add it to
# tests/fuzz_regressions.rs. The executions count is the last `#N` line of
# fuzz/fuzz.log.
set -euo pipefail
secs=${1:-1800}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift

root=$(cd "$(dirname "$0")/.." && pwd)
command -v cargo-fuzz >/dev/null 2>&1 || { echo "fuzz.sh: cargo-fuzz is missing: cargo install cargo-fuzz" >&2; exit 1; }
rustup toolchain list | grep -q '^nightly' || { echo "fuzz.sh: the nightly toolchain is missing: rustup toolchain install nightly" >&2; exit 1; }

cd "$root/fuzz"
corpus=corpus/engine
mkdir -p "$corpus" artifacts/engine
# seeds: every case input behind a few edit selections
for f in "$root"/testdata/cases/*/input.yaml "$root"/testdata/tingyunagent.yaml; do
  name=$(basename "$(dirname "$f")")-$(basename "$f")
  for sel in 07 04 01 02 0c 1f 27; do
    out="$corpus/seed-$sel-$name"
    [ -e "$out" ] || { printf "\\x$sel" > "$out"; cat "$f" >> "$out"; }
  done
done

# ASan needs no rust-src here, but the C grammar is not instrumented by it
# and the run is twice as slow: `-s none` keeps the executions up.
exec nice cargo +nightly fuzz run -s none engine "$corpus" -- \
  -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  -dict="$root/fuzz/yaml.dict" -print_final_stats=1 "$@" 2>&1 | tee fuzz.log
