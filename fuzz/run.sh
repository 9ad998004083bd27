#!/usr/bin/env bash
# Runs the fuzz targets one after the other, each for SECONDS (default 600),
# with the repository's own inputs as seeds. Needs cargo-fuzz
# (`cargo install cargo-fuzz`); on a stable toolchain RUSTC_BOOTSTRAP=1 lets
# it pass the sanitizer flags (a nightly toolchain does not need it).
#
#   fuzz/run.sh                 # every target, 10 minutes each
#   fuzz/run.sh 60 split gold   # two targets, one minute each
#   SANITIZER=none TIMEOUT=20 fuzz/run.sh 60 pipeline
#
# New inputs that add coverage go to fuzz/corpus/<target>/ (not committed);
# a crash is saved under fuzz/artifacts/<target>/ and the run stops there.
#
# Inputs go up to 1 MiB (-max_len) and each has TIMEOUT seconds (default 20,
# -timeout): an input that takes longer is reported and saved like a crash
# (artifacts/<target>/timeout-…), so a path that grows with the square of
# its input fails here (1 MB of "U.S. " once took 131 s in a release build).
# Large adversarial seeds (fuzz/seeds-large/, made here, not committed) start
# the fuzzer at those sizes instead of waiting for it to grow its inputs.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(split readers gold pipeline)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export RUSTC_BOOTSTRAP="${RUSTC_BOOTSTRAP:-1}"
timeout="${TIMEOUT:-20}"
# SANITIZER=none builds with coverage only: much faster to build and run
# (the targets run no unsafe code of ours; the encoder is not fuzzed).
sanitizer="${SANITIZER:-address}"
max_len=1048576
# Large seeds: no sentence boundary, many quotation marks, deep brackets,
# many lines, each near the size limit.
mkdir -p seeds-large
# TEXT repeated, one copy a line, to BYTES (`yes` ends on SIGPIPE: not an error).
fill() { { yes "$1" || true; } | head -c "$2"; }
fill 'U.S.' 1000000 | tr '\n' ' ' > seeds-large/abbreviations.txt
fill 'France said Mali rejected talks with the JNIM, while' 1000000 | tr '\n' ' ' > seeds-large/actors.txt
fill '“talks” "dialogue" « négocier » “open' 1000000 | tr '\n' ' ' > seeds-large/quotes.txt
{ fill '(' 200000 | tr -d '\n'; fill ')' 200000 | tr -d '\n'; } > seeds-large/brackets.txt
fill 'Mali.' 1000000 > seeds-large/lines.txt
for target in "${targets[@]}"; do
  case "$target" in
    split | pipeline) seeds=(../eval/corpus ../tests/data/nasty seeds-large) ;;
    readers) seeds=(../tests/data/nasty ../eval/corpus seeds-large) ;;
    gold) seeds=(seeds/gold) ;;
    *) echo "unknown target $target (split, readers, gold, pipeline)" >&2; exit 2 ;;
  esac
  mkdir -p "corpus/$target"
  echo "== $target: ${seconds}s"
  cargo fuzz run -s "$sanitizer" "$target" "corpus/$target" "${seeds[@]}" -- \
    -max_total_time="$seconds" -max_len="$max_len" -timeout="$timeout" -rss_limit_mb=4096 \
    -print_final_stats=1
done
