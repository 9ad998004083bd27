#!/usr/bin/env python3
"""Score a JSONL file of articles with `stance score` on Apache Spark.

Each partition of the input (contiguous runs of lines, in file order) is piped
through one `stance score - --format jsonl` process with `RDD.pipe`, and the
records are saved with `saveAsTextFile`: OUTPUT/part-00000, part-00001, ...
Concatenated in name order, the part files are the single-process output for
the same input, byte for byte (each partition's records come out in input
order, and the partitions follow the file). Per partition, as for one run:
bad records are reported on the executor's stderr (lines counted within the
partition) and skipped; duplicate ids are caught within a partition only.

    python eval/spark/score_rdd.py articles.jsonl scored/ --partitions 8 \\
        --stance /opt/stance/bin/stance -- --offline --threads 1

Options after `--` go to `stance score` unchanged. Local mode by default
(`--master local[N]`); on a cluster, run it with spark-submit (README,
"Running on a cluster").
"""

import argparse
import os
import shlex
import shutil
import sys

from pyspark import SparkConf, SparkContext

# Exit codes of `stance score`: 0 all scored, 1 some inputs refused (reported
# on stderr, the rest scored), 2 the command could not run (bad option,
# missing model). Only the last fails the task: bad articles are data, and
# failing (then retrying) a task for them would lose the partition's output.
TOLERATED_EXIT = 1


def pipe_command(stance: str, stance_args: list[str]) -> str:
    """The command each partition is piped through, as RDD.pipe splits it
    (shlex). `sh` maps exit code 1 to 0, so checkCode fails tasks only when
    `stance` could not run or crashed."""
    score = [stance, "score", "-", "--format", "jsonl", "--quiet", *stance_args]
    script = f'{shlex.join(score)}; code=$?; [ "$code" -le {TOLERATED_EXIT} ] || exit "$code"'
    return shlex.join(["/bin/sh", "-c", script])


def pipe_env(cache_dir: str | None) -> dict[str, str]:
    """RDD.pipe starts each process with exactly this environment (not the
    worker's): the model cache and what the binary needs to run."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for name in ("HOME", "XDG_CACHE_HOME", "RAYON_NUM_THREADS"):
        if name in os.environ:
            env[name] = os.environ[name]
    cache = cache_dir or os.environ.get("STANCE_CACHE_DIR")
    if cache:
        env["STANCE_CACHE_DIR"] = cache
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="JSONL articles {id, text, ...} (any path Spark reads)")
    parser.add_argument("output", help="directory for the part files (must not exist)")
    parser.add_argument(
        "--stance",
        default=shutil.which("stance") or "stance",
        help="the stance binary as the executors see it: an absolute path, or "
        "./stance when shipped with spark-submit --files (default: stance on PATH)",
    )
    parser.add_argument("--partitions", type=int, default=2, help="at least this many (default 2)")
    parser.add_argument(
        "--master", default=None, help="Spark master (default: spark-submit's, else local[2])"
    )
    parser.add_argument(
        "--cache-dir",
        default=None,
        help="STANCE_CACHE_DIR on the executors (default: the driver's $STANCE_CACHE_DIR)",
    )
    parser.epilog = "Options after -- go to `stance score` unchanged."
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    stance_args = argv[split + 1 :]

    conf = SparkConf().setAppName("stance score").set("spark.ui.enabled", "false")
    if args.master:
        conf = conf.setMaster(args.master)
    elif not conf.contains("spark.master"):
        conf = conf.setMaster("local[2]")
    sc = SparkContext(conf=conf)
    sc.setLogLevel("WARN")
    try:
        articles = sc.textFile(args.input, minPartitions=args.partitions)
        records = articles.pipe(
            pipe_command(args.stance, stance_args),
            env=pipe_env(args.cache_dir),
            checkCode=True,
        )
        records.saveAsTextFile(args.output)
        print(
            f"scored {articles.getNumPartitions()} partition(s) of {args.input} into {args.output}",
            file=sys.stderr,
        )
    finally:
        sc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
