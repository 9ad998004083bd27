#!/usr/bin/env bash
# The encoder benchmark against sentence-transformers, alternating in one run.
#
#   eval/bench/peer.sh [SENTENCES] [--precisions fp32,bf16] [--rounds N] [--threads N] [--batch N]
#
# Sets up the Python peer once in a virtual environment ($PEER_VENV, default
# target/peer-venv): torch and sentence-transformers from the package
# registry (PyPI's torch wheel is the large CUDA build, several GB; it runs on
# the CPU all the same). The peer loads all-MiniLM-L6-v2 from the same local
# files as stance ($STANCE_CACHE_DIR/models/all-MiniLM-L6-v2, fetched with
# `stance models fetch minilm`). Prints the table; the JSON goes to
# target/bench-peer.json (or $PEER_JSON).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

sentences="eval/bench/corpus-sentences.txt"
if [[ $# -gt 0 && "$1" != --* ]]; then
  sentences="$1"
  shift
fi

venv="${PEER_VENV:-$root/target/peer-venv}"
if ! "$venv/bin/python" -c "import torch, sentence_transformers" 2>/dev/null; then
  echo "peer.sh: installing torch and sentence-transformers into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet torch sentence-transformers
fi

cargo build --release --quiet
target_dir="${CARGO_TARGET_DIR:-$root/target}"
stance="$target_dir/release/stance"
"$stance" models fetch minilm --quiet >&2

cache="${STANCE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/stance}"
exec "$venv/bin/python" eval/bench/peer.py "$sentences" \
  --stance "$stance" \
  --model-dir "$cache/models/all-MiniLM-L6-v2" \
  --json-out "${PEER_JSON:-$target_dir/bench-peer.json}" \
  "$@"
