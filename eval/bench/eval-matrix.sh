#!/usr/bin/env bash
# The accuracy matrix of the README ("Stance accuracy"): every encoder, every
# classifier, leave-one-document-out on the English and French gold, with and
# without the training articles. One `stance eval` a cell row; the JSON
# reports go to $OUT (default target/eval-matrix), then the table is printed.
#
#   eval/bench/eval-matrix.sh [ENCODER...]     (default: gemma minilm mpnet)
#
# SetFit (MiniLM only: the one architecture it fine-tunes) is its own report a
# row, minilm-setfit-news.json and minilm-setfit-art.json, at the fixed step
# budget of eval/setfit/a-budget.toml; about 40 minutes a report here, so it
# runs only when asked: SETFIT=1 eval/bench/eval-matrix.sh minilm.
#
# A report already in $OUT is kept (rerun after an interruption carries on).
# About an hour here for all three encoders (2 cores): EmbeddingGemma and
# MPNet encode the 4,600 training and gold sentences on candle.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
out="${OUT:-$root/target/eval-matrix}"
mkdir -p "$out"
cargo build --release --quiet
stance="${CARGO_TARGET_DIR:-$root/target}/release/stance"
news="labels/train/synthetic-en-news.jsonl"
articles=(labels/train/articles-b1.jsonl labels/train/articles-b2.jsonl labels/train/articles-b3.jsonl
  labels/train/articles-b4.jsonl labels/train/articles-b5.jsonl)
classifiers="majority,keyword,zero-shot,linear,linear+context,linear+cues,linear+context+cues"
encoders=("$@")
[[ ${#encoders[@]} -gt 0 ]] || encoders=(gemma minilm mpnet)
for encoder in "${encoders[@]}"; do
  for extra in news art; do
    files=("$news")
    [[ $extra == art ]] && files+=("${articles[@]}")
    report="$out/$encoder-$extra.json"
    if [[ ! -s $report ]]; then
      echo "eval-matrix: $encoder, --train-extra ${files[*]}" >&2
      "$stance" eval --encoder "$encoder" --classifier "$classifiers" --format json \
        --train-extra "${files[@]}" --out "$report"
    fi
    if [[ ${SETFIT:-0} == 1 && $encoder == minilm ]]; then
      report="$out/$encoder-setfit-$extra.json"
      [[ -s $report ]] && continue
      echo "eval-matrix: $encoder setfit, --train-extra ${files[*]}" >&2
      "$stance" eval --encoder "$encoder" --classifier setfit --setfit-config eval/setfit/a-budget.toml \
        --format json --train-extra "${files[@]}" --out "$report"
    fi
  done
done
python3 eval/bench/eval_table.py "$out"
