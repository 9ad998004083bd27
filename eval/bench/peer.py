"""The encoder benchmark against the Python peer, in one run.

sentence-transformers (PyTorch, CPU) and `stance bench encode` encode the same
sentences, taking turns (peer, stance per precision, peer, ...) so that a
change in the machine's load weighs on every contender alike. Each turn is one
timed pass after an untimed warm-up; model loading is never timed. Prints a
markdown table (medians, and each contender's ratio to the peer) and writes
the same figures as JSON.

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
    p.add_argument("--model-dir", required=True, help="all-MiniLM-L6-v2's local files")
    p.add_argument("--precisions", default="fp32", help="stance precisions, comma-separated")
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
    model = SentenceTransformer(args.model_dir, device="cpu")

    def peer_pass():
        start = time.perf_counter()
        # encode() sorts by length and batches, as stance does.
        model.encode(sentences, batch_size=args.batch, convert_to_numpy=True)
        return time.perf_counter() - start

    def stance_pass(precision):
        cmd = [
            args.stance, "bench", "encode", args.sentences,
            "--batch", str(args.batch), "--threads", str(args.threads),
            "--repeats", "1", "--format", "json", "--offline",
            "--precision", precision,
        ]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        return json.loads(out)["times_s"][0]

    precisions = [p for p in args.precisions.split(",") if p]
    contenders = ["sentence-transformers"] + [f"stance {p}" for p in precisions]
    times = {c: [] for c in contenders}
    model.encode(sentences[: args.batch], batch_size=args.batch)  # warm-up
    for r in range(args.rounds):
        times["sentence-transformers"].append(peer_pass())
        for p in precisions:
            times[f"stance {p}"].append(stance_pass(p))
        print(f"round {r + 1}/{args.rounds}: "
              + ", ".join(f"{c} {t[-1]:.3f} s" for c, t in times.items()), file=sys.stderr)

    n = len(sentences)
    peer_median = statistics.median(times["sentence-transformers"])
    rows = []
    for c in contenders:
        med = statistics.median(times[c])
        rows.append({
            "contender": c, "times_s": [round(t, 4) for t in times[c]],
            "median_s": round(med, 4), "sent_per_s": round(n / med, 1),
            "ratio_to_peer": round(peer_median / med, 2),
        })
    report = {
        "sentences": n, "file": args.sentences, "batch": args.batch, "threads": args.threads,
        "rounds": args.rounds, "load_average": list(os.getloadavg()),
        "torch": torch.__version__, "results": rows,
    }
    print(f"{n} sentences ({args.sentences}), batch {args.batch}, {args.threads} threads, "
          f"{args.rounds} alternating rounds, load average "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()) + "\n")
    print("| encoder | median s | sentences/s | ratio to peer |")
    print("|---|---:|---:|---:|")
    for row in rows:
        print(f"| {row['contender']} | {row['median_s']:.3f} | {row['sent_per_s']:.1f} "
              f"| {row['ratio_to_peer']:.2f} |")
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
