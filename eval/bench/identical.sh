#!/usr/bin/env bash
# Behaviour byte-identical across a refactor: the scored corpus (three
# encoder/classifier settings), the split, the compare JSON (default encoder
# and MiniLM, plus the Markdown table from predictions) and the eval report
# (JSON from a run of two classifiers; Markdown and HTML from predictions).
#
#   eval/bench/identical.sh REF_DIR
#
# With no REF_DIR/outputs.txt, records the outputs there (run it on the
# commit before the change); with one, writes the same outputs to a scratch
# folder and compares them byte for byte, printing one line per output and
# failing when any differs. $STANCE picks the binary (default:
# target/release/stance, built first). About four minutes here (2 cores),
# most of it the default encoder (EmbeddingGemma) on candle. Models must be
# cached: every run is --offline.
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 REF_DIR" >&2; exit 2; }
ref="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
if [[ -z ${STANCE:-} ]]; then
  cargo build --release --quiet
  STANCE="${CARGO_TARGET_DIR:-$root/target}/release/stance"
fi

if [[ -f $ref/outputs.txt ]]; then
  mode=compare
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
else
  mode=record
  out="$ref"
  mkdir -p "$out"
fi

s() { "$STANCE" "$@"; }
corpus=eval/corpus
s split "$corpus" --out "$out/split.jsonl"
s score "$corpus" --offline --quiet --out "$out/score-gemma.jsonl"
s score "$corpus" --offline --quiet --encoder minilm --out "$out/score-minilm.jsonl"
s score "$corpus" --offline --quiet --classifier keyword --format table --out "$out/score-keyword.txt"
s compare "$corpus" --offline --quiet --format json --out "$out/compare-gemma.json"
s compare "$corpus" --offline --quiet --encoder minilm --format json --out "$out/compare-minilm.json"
s compare --predictions "$out/score-gemma.jsonl" --gold labels/gold.jsonl --format md \
  --out "$out/compare-gold.md"
s eval --offline --quiet --encoder minilm --classifier keyword,linear --format json \
  --out "$out/eval-minilm.json"
s eval --predictions "$out/score-gemma.jsonl" --format md --out "$out/eval-predictions.md"
s eval --predictions "$out/score-gemma.jsonl" --format html --out "$out/eval-predictions.html"

outputs=(split.jsonl score-gemma.jsonl score-minilm.jsonl score-keyword.txt compare-gemma.json
  compare-minilm.json compare-gold.md eval-minilm.json eval-predictions.md eval-predictions.html)
if [[ $mode == record ]]; then
  (cd "$out" && sha256sum "${outputs[@]}") >"$ref/outputs.txt"
  echo "recorded ${#outputs[@]} outputs in $ref"
  exit 0
fi
differ=0
for name in "${outputs[@]}"; do
  if cmp -s "$ref/$name" "$out/$name"; then
    echo "identical  $name"
  else
    echo "DIFFERENT  $name"
    differ=1
  fi
done
exit $differ
