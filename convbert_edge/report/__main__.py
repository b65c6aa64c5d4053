"""`python -m convbert_edge.report`: accuracy against latency of our artifacts and the peers.

    python -m convbert_edge.report                        # quick: the verdicts, in minutes
    python -m convbert_edge.report --full                 # every variant, QAT, 1 and 2 threads
    python -m convbert_edge.report --full --shapes conv-bert-small,conv-bert-base
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
from convbert_edge.report.budget import ACCEPTANCE_THREADS
from convbert_edge.report.modes import FULL, QUICK


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
        description="Measure task accuracy, agreement with fp32, round-robin latency, load "
        "time, size and peak memory of a ConvBERT checkpoint's artifacts against the peer "
        "paths from transformers' model, and say whether the speed targets are met. By "
        "default (quick, what `make demo` runs; "
        f"{QUICK.minutes} min on the default model): only the rows the verdicts read: our fp32 "
        "model, the TFLite and ExecuTorch int8 artifacts `python -m convbert_edge.export "
        "--target tflite|executorch --int8` wrote to ./artifacts (measured in place when "
        "their manifests say they were built from this checkpoint with the report's "
        "settings; built here otherwise, saying why), the integer-only TFLite model, "
        "transformers eager and the peers, at "
        f"{ACCEPTANCE_THREADS} threads, {QUICK.runs} rounds; the peers are timed, not "
        "scored. --full is the sweep. --variants, --threads and --runs replace either "
        "mode's own choice and keep the rest of it.",
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="the full sweep: every variant (fp32, fp16, dynamic int8, the integer-only "
        "TFLite model, ONNX, QAT on both targets, every peer), all built by the report "
        f"itself, at 1 and 2 threads, {FULL.runs} rounds, plus each runtime's int8 GEMM "
        f"limit; {FULL.minutes} min from an empty cache, a few when its builds are cached",
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
        help="comma list of variant names (default: the mode's: quick's "
        f"{','.join(QUICK.variant_names())}; every one with --full); an unknown name lists "
        "the valid ones",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="output directory (default reports/<model>)"
    )
    p.add_argument(
        "--runs",
        type=int,
        default=None,
        help=f"timed round-robin rounds (default {QUICK.runs}"
        + (f"; {FULL.runs} with --full)" if FULL.runs != QUICK.runs else ", in both modes)"),
    )
    p.add_argument("--warmup", type=int, default=5, help="untimed rounds first (default 5)")
    p.add_argument(
        "--threads",
        type=_ints,
        default=None,
        help=f"thread counts (default {','.join(map(str, QUICK.threads))}; "
        f"{','.join(map(str, FULL.threads))} with --full)",
    )
    p.add_argument("--seq-len", type=int, default=128, help="static sequence length (128)")
    p.add_argument(
        "--shapes",
        type=_names,
        default=(),
        help="extra random-weight shapes for latency (and with --full the GEMM limit): "
        "conv-bert-small, conv-bert-base; built by the report (minutes each)",
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
        "--calibration",
        default=None,
        metavar="NAME_OR_FILE",
        help="calibration texts of the builds, as export's --calibration (default "
        "movie_reviews); an export is reused only when it was calibrated on the same",
    )
    p.add_argument(
        "--calibration-samples",
        type=int,
        default=256,
        help="calibration texts per build, as export's (default 256)",
    )
    p.add_argument(
        "--no-memory",
        action="store_true",
        help="leave out load time and peak memory (read from each variant's timing worker)",
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
        help="build every artifact again instead of reusing one whose build key matches "
        "(and reuse no export)",
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

        if (args.runs is not None and args.runs < 1) or args.warmup < 0 or args.seq_len < 8:
            raise ValueError("--runs must be ≥ 1, --warmup ≥ 0 and --seq-len ≥ 8")
        if args.calibration_samples < 1:
            raise ValueError("--calibration-samples must be ≥ 1")
        options = ReportOptions.for_mode(
            "full" if args.full else "quick",
            variants=parse_variants(args.variants) if args.variants else None,
            threads=args.threads,
            runs=args.runs,
            model=args.model,
            task=args.task,
            out=args.out,
            warmup=args.warmup,
            seq_len=args.seq_len,
            shapes=args.shapes,
            skip_peers=args.skip_peers,
            cache_dir=cache,
            rebuild=args.rebuild,
            eval_limit=args.eval_limit,
            dataset=args.dataset,
            calibration=args.calibration,
            calibration_samples=args.calibration_samples,
            memory=not args.no_memory,
        )
        run_report(options)
        return EXIT_OK

    return run_command("report", body, verbose=args.verbose, log_dir=cache.expanduser() / "logs")


if __name__ == "__main__":
    sys.exit(main())
