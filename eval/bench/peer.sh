#!/usr/bin/env bash
# The encoder benchmark against sentence-transformers, alternating in one run.
#
#   eval/bench/peer.sh [SENTENCES] [--encoder minilm|mpnet|gemma] [--precisions fp32,bf16]
#                      [--peer-dtypes fp32,bf16] [--rounds N] [--threads N] [--batch N]
#
# Sets up the Python peer once in a virtual environment ($PEER_VENV, default
# target/peer-venv): torch and sentence-transformers from the package
# registry (PyPI's torch wheel is the large CUDA build, several GB; it runs on
# the CPU all the same). The peer loads the encoder (default minilm) from the
# same local files as stance (the path `stance models list` gives, fetched
# with `stance models fetch NAME`), in each of --peer-dtypes (default fp32).
# Prints the table; the JSON goes to target/bench-peer.json (or $PEER_JSON).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

sentences="eval/bench/corpus-sentences.txt"
if [[ $# -gt 0 && "$1" != --* ]]; then
  sentences="$1"
  shift
fi
encoder=minilm
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --encoder) encoder="$2"; shift 2 ;;
    --encoder=*) encoder="${1#--encoder=}"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done

venv="${PEER_VENV:-$root/target/peer-venv}"
if ! "$venv/bin/python" -c "import torch, sentence_transformers" 2>/dev/null; then
  echo "peer.sh: installing torch and sentence-transformers into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet torch sentence-transformers
fi

cargo build --release --quiet
target_dir="${CARGO_TARGET_DIR:-$root/target}"
stance="$target_dir/release/stance"
"$stance" models fetch "$encoder" --quiet >&2
# The model's folder, as stance itself resolves it (alias, model, state, license, path).
model_dir="$("$stance" models list | awk -v e="$encoder" '$1 == e || $2 == e { print $NF }')"
[[ -d $model_dir ]] || { echo "peer.sh: no cached model for --encoder $encoder" >&2; exit 2; }

exec "$venv/bin/python" eval/bench/peer.py "$sentences" \
  --stance "$stance" \
  --encoder "$encoder" \
  --model-dir "$model_dir" \
  --json-out "${PEER_JSON:-$target_dir/bench-peer.json}" \
  "${args[@]}"
