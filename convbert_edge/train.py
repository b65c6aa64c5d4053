"""Fine-tune a ConvBERT: ``python -m convbert_edge.train --dataset movie_reviews``.

Data sets and their tasks: movie_reviews and bbc_news (sequence classification), wnut16
(token classification), squad (question answering); see docs/task_models.md.

Every flag is a field of ``convbert_edge.training.TrainConfig``; the run is
``convbert_edge.training.train(config)``. Example (the proposed default model, see
docs/default_model.md):

    python -m convbert_edge.train --dataset movie_reviews --out-dir runs/sentiment \\
        --preset conv-bert-small --num-layers 4 --init-embeddings minilm --seq-len 64

Data-parallel on N processes (the same model as one process; docs/distributed.md):

    torchrun --standalone --nproc_per_node 2 -m convbert_edge.train --dataset movie_reviews ...
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from convbert_edge.cache import CACHE_DIR_DEFAULT_HELP, cache_dir_from_environ
from convbert_edge.cli import EXIT_OK, run_command
from convbert_edge.config import PRESETS
from convbert_edge.data import DATASETS
from convbert_edge.errors import ConvBertEdgeError
from convbert_edge.launch import distributed_from_environ, process_group
from convbert_edge.training import TrainConfig, train
from convbert_edge.training.config import EMBEDDING_INITS


def _optional(kind):
    def parse(text: str):
        return None if text.lower() == "none" else kind(text)

    parse.__name__ = kind.__name__  # argparse names the type in its error messages
    return parse


def _model_arg(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    for kind in (int, float):
        try:
            return key, kind(value)
        except ValueError:
            pass
    return key, value


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig("movie_reviews", Path("."))
    p = argparse.ArgumentParser(
        prog="python -m convbert_edge.train",
        description="Fine-tune a ConvBERT classifier, tagger or question answerer on a "
        "packaged data set.",
    )
    p.add_argument("--dataset", required=True, choices=sorted(DATASETS))
    p.add_argument("--out-dir", required=True, type=Path, help="checkpoint + MODEL_CARD.md")
    p.add_argument("--model-dir", type=_optional(Path), default=None, help="fine-tune this")
    p.add_argument("--preset", default=d.preset, choices=sorted(PRESETS), help="from scratch")
    p.add_argument("--num-layers", type=_optional(int), default=d.num_layers)
    p.add_argument(
        "--model-arg", action="append", type=_model_arg, default=[], metavar="KEY=VALUE",
        help="another ConvBertConfig field of a from-scratch model (repeatable)",
    )  # fmt: skip
    p.add_argument(
        "--init-embeddings", type=_optional(str), default=None, choices=[*EMBEDDING_INITS, None]
    )
    p.add_argument("--seq-len", type=int, default=d.seq_len)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--eval-batch-size", type=int, default=d.eval_batch_size)
    p.add_argument(
        "--accumulate", type=int, default=d.accumulate,
        help="micro-batches summed into one step per process; --batch-size is the global "
        "batch (rows per pass x processes x accumulate)",
    )  # fmt: skip
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--warmup-ratio", type=float, default=d.warmup_ratio)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--max-grad-norm", type=float, default=d.max_grad_norm)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--max-train-examples", type=_optional(int), default=None)
    p.add_argument("--max-eval-examples", type=_optional(int), default=None)
    p.add_argument("--max-steps", type=_optional(int), default=None, help="for timing runs")
    p.add_argument("--log-every", type=int, default=d.log_every)
    p.add_argument("--threads", type=_optional(int), default=None)
    p.add_argument(
        "--save-dtype",
        choices=["float32", "float16"],
        default=d.save_dtype,
        help="storage of the weights; float16 halves the file (test scored as stored)",
    )
    p.add_argument(
        "--cache-dir", type=_optional(Path), default=None,
        help=f"data cache; default {CACHE_DIR_DEFAULT_HELP}",
    )  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help="replace a checkpoint in --out-dir")
    return p


def config_from_args(argv: list[str] | None = None, environ=os.environ) -> TrainConfig:
    """Parse argv into a TrainConfig (argparse exits with status 2 on a malformed flag)."""
    args = vars(build_parser().parse_args(argv))
    args["model_overrides"] = dict(args.pop("model_arg"))
    if args["cache_dir"] is None:
        args["cache_dir"] = cache_dir_from_environ(environ)
    return TrainConfig(**args)


def main(argv: list[str] | None = None, environ=os.environ) -> int:
    """Under torchrun (its RANK, WORLD_SIZE, ... in ``environ``) the run is data-parallel
    over its processes (docs/distributed.md); without them, one process. Exit status by
    the contract of convbert_edge/cli.py (a malformed flag exits 2 from argparse)."""
    try:
        config = config_from_args(argv, environ)
        distributed = distributed_from_environ(environ)
    except (ConvBertEdgeError, ValueError) as err:
        build_parser().error(str(err))  # exits 2 with the message, no traceback

    def body(say) -> int:
        with process_group(distributed):
            train(config, log=say, distributed=distributed)
        return EXIT_OK

    return run_command("train", body)


if __name__ == "__main__":
    sys.exit(main())
