"""The encoder benchmark against the Python peer, in one run.

sentence-transformers (PyTorch, CPU) and `stance bench encode` encode the same
sentences, taking turns (peer per dtype, stance per precision, peer, ...) so
that a change in the machine's load weighs on every contender alike. Each turn
is one timed pass after an untimed warm-up; model loading is never timed. Both
sides use the encoder's own prompt where it has one (EmbeddingGemma's
Classification prompt, as stance does). Prints a markdown table (medians, and
each contender's ratio to each peer) and writes the same figures as JSON.

Run it through peer.sh, which sets up the peer's environment.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sentences", help="sentences, one a line")
    p.add_argument("--stance", required=True, help="the stance binary")
    p.add_argument("--encoder", default="minilm", help="stance's name for the encoder")
    p.add_argument("--model-dir", required=True, help="the encoder's local files")
    p.add_argument("--precisions", default="fp32", help="stance precisions, comma-separated")
    p.add_argument("--peer-dtypes", default="fp32",
                   help="the peer's dtypes, comma-separated: fp32, bf16 (torch.bfloat16 weights)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json-out", help="also write the figures here")
    return p.parse_args()


def main():
    args = parse_args()
    # Thread counts are fixed before torch starts its pools.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    with open(args.sentences, encoding="utf-8") as f:
        sentences = [line.strip() for line in f if line.strip()]
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    peer_dtypes = [d for d in args.peer_dtypes.split(",") if d]
    models = {
        d: SentenceTransformer(args.model_dir, device="cpu",
                               model_kwargs={"dtype": dtypes[d]})
        for d in peer_dtypes
    }
    # The prompt stance puts before each sentence, where the model has one.
    prompt_name = "Classification" if "Classification" in models[peer_dtypes[0]].prompts else None

    def peer_pass(dtype):
        start = time.perf_counter()
        # encode() sorts by length and batches, as stance does.
        models[dtype].encode(sentences, batch_size=args.batch, convert_to_numpy=True,
                             prompt_name=prompt_name)
        return time.perf_counter() - start

    def stance_pass(precision):
        cmd = [
            args.stance, "bench", "encode", args.sentences,
            "--batch", str(args.batch), "--threads", str(args.threads),
            "--repeats", "1", "--format", "json", "--offline",
            "--precision", precision, "--encoder", args.encoder,
        ]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        return json.loads(out)["times_s"][0]

    precisions = [p for p in args.precisions.split(",") if p]
    peers = [f"sentence-transformers {d}" for d in peer_dtypes]
    contenders = peers + [f"stance {p}" for p in precisions]
    times = {c: [] for c in contenders}
    for model in models.values():  # warm-up
        model.encode(sentences[: args.batch], batch_size=args.batch, prompt_name=prompt_name)
    for r in range(args.rounds):
        for d, peer in zip(peer_dtypes, peers):
            times[peer].append(peer_pass(d))
        for p in precisions:
            times[f"stance {p}"].append(stance_pass(p))
        print(f"round {r + 1}/{args.rounds}: "
              + ", ".join(f"{c} {t[-1]:.3f} s" for c, t in times.items()), file=sys.stderr)

    n = len(sentences)
    peer_medians = {peer: statistics.median(times[peer]) for peer in peers}
    rows = []
    for c in contenders:
        med = statistics.median(times[c])
        rows.append({
            "contender": c, "times_s": [round(t, 4) for t in times[c]],
            "median_s": round(med, 4), "sent_per_s": round(n / med, 1),
            "ratio_to_peer": {peer: round(pm / med, 2) for peer, pm in peer_medians.items()},
        })
    report = {
        "encoder": args.encoder, "model_dir": args.model_dir,
        "sentences": n, "file": args.sentences, "batch": args.batch, "threads": args.threads,
        "rounds": args.rounds, "load_average": list(os.getloadavg()),
        "torch": torch.__version__, "results": rows,
    }
    print(f"{args.encoder}: {n} sentences ({args.sentences}), batch {args.batch}, "
          f"{args.threads} threads, {args.rounds} alternating rounds, load average "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()) + "\n")
    print("| contender | median s | sentences/s | "
          + " | ".join(f"ratio to {p.split()[-1]} peer" for p in peers) + " |")
    print("|---|---:|---:|" + "---:|" * len(peers))
    for row in rows:
        print(f"| {row['contender']} | {row['median_s']:.3f} | {row['sent_per_s']:.1f} | "
              + " | ".join(f"{r:.2f}" for r in row["ratio_to_peer"].values()) + " |")
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
