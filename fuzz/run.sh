#!/usr/bin/env bash
# Runs the fuzz targets one after the other, each for SECONDS (default 600),
# with the repository's own inputs as seeds. Needs cargo-fuzz
# (`cargo install cargo-fuzz`); on a stable toolchain RUSTC_BOOTSTRAP=1 lets
# it pass the sanitizer flags (a nightly toolchain does not need it).
#
#   fuzz/run.sh                 # every target, 10 minutes each
#   fuzz/run.sh 60 split gold   # two targets, one minute each
#
# New inputs that add coverage go to fuzz/corpus/<target>/ (not committed);
# a crash is saved under fuzz/artifacts/<target>/ and the run stops there.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(split readers gold pipeline)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export RUSTC_BOOTSTRAP="${RUSTC_BOOTSTRAP:-1}"
for target in "${targets[@]}"; do
  case "$target" in
    split | pipeline) seeds=(../eval/corpus ../tests/data/nasty) ;;
    readers) seeds=(../tests/data/nasty ../eval/corpus) ;;
    gold) seeds=(seeds/gold) ;;
    *) echo "unknown target $target (split, readers, gold, pipeline)" >&2; exit 2 ;;
  esac
  mkdir -p "corpus/$target"
  echo "== $target: ${seconds}s"
  cargo fuzz run "$target" "corpus/$target" "${seeds[@]}" -- \
    -max_total_time="$seconds" -max_len=4096 -print_final_stats=1
done
