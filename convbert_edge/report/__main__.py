"""`python -m convbert_edge.report`: accuracy against latency for every variant and peer.

    python -m convbert_edge.report                                  # the default model
    python -m convbert_edge.report --shapes conv-bert-small,conv-bert-base
    python -m convbert_edge.report --variants tflite-int8,transformers-eager --runs 10

Writes report.md, report.json and report.png to --out (default reports/<model>).
Exit status: 0 written; 2 the report could not be made (bad checkpoint, flags, ...).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from convbert_edge.cache import CACHE_DIR_DEFAULT_HELP, cache_dir_for
from convbert_edge.cli import EXIT_OK, add_verbose_flag, run_command


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a comma list of integers, got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"thread counts must be at least 1, got {text!r}")
    return values


def _names(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m convbert_edge.report",
        description="Build (or reuse) every TFLite, ExecuTorch and ONNX variant of a ConvBERT "
        "checkpoint and the peer paths from transformers' model, then measure task accuracy, "
        "agreement with fp32, round-robin latency, load time, size and peak memory.",
    )
    p.add_argument(
        "--model",
        default=None,
        help="checkpoint directory or hub id (default: the embedded default model)",
    )
    p.add_argument("--task", default=None, help="head to export; default: the checkpoint's own")
    p.add_argument(
        "--variants",
        default=None,
        help="comma list of variant names (default: all); an unknown name lists the valid ones",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="output directory (default reports/<model>)"
    )
    p.add_argument("--runs", type=int, default=50, help="timed round-robin rounds (default 50)")
    p.add_argument("--warmup", type=int, default=5, help="untimed rounds first (default 5)")
    p.add_argument("--threads", type=_ints, default=(1, 2), help="thread counts (default 1,2)")
    p.add_argument("--seq-len", type=int, default=128, help="static sequence length (128)")
    p.add_argument(
        "--shapes",
        type=_names,
        default=(),
        help="extra random-weight shapes for "
        "latency and the GEMM limit: conv-bert-small, conv-bert-base",
    )
    p.add_argument("--skip-peers", action="store_true", help="leave out the peer paths")
    p.add_argument(
        "--eval-limit",
        type=int,
        default=None,
        help="score only the first N held-out examples (default: the whole split)",
    )
    p.add_argument(
        "--dataset",
        default=None,
        help="held-out data set (default by task: movie_reviews for sequence classification)",
    )
    p.add_argument(
        "--no-memory",
        action="store_true",
        help="skip the per-variant child processes that measure load time and peak memory",
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=f"data sets, default model and built artifacts (default {CACHE_DIR_DEFAULT_HELP})",
    )
    p.add_argument(
        "--rebuild",
        action="store_true",
        help="build every artifact again instead of reusing one whose build key matches",
    )
    add_verbose_flag(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # transformers imports TensorFlow whenever installed; its PyTorch classes are all we use.
    os.environ.setdefault("USE_TF", "0")
    cache = cache_dir_for(args.cache_dir, os.environ)

    def body(say) -> int:
        from convbert_edge.report import ReportOptions, run_report
        from convbert_edge.report.variants import parse_variants

        if args.runs < 1 or args.warmup < 0 or args.seq_len < 8:
            raise ValueError("--runs must be ≥ 1, --warmup ≥ 0 and --seq-len ≥ 8")
        options = ReportOptions(
            model=args.model,
            task=args.task,
            variants=parse_variants(args.variants),
            out=args.out,
            runs=args.runs,
            warmup=args.warmup,
            threads=args.threads,
            seq_len=args.seq_len,
            shapes=args.shapes,
            skip_peers=args.skip_peers,
            cache_dir=cache,
            rebuild=args.rebuild,
            eval_limit=args.eval_limit,
            dataset=args.dataset,
            memory=not args.no_memory,
        )
        run_report(options)
        return EXIT_OK

    return run_command("report", body, verbose=args.verbose, log_dir=cache.expanduser() / "logs")


if __name__ == "__main__":
    sys.exit(main())
