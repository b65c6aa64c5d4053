"""`python -m convbert_edge.export`: export a ConvBERT checkpoint to an artifact and verify it.

    python -m convbert_edge.export --target tflite --int8
    python -m convbert_edge.export --target executorch --quant int8 --model ./my-convbert
    python -m convbert_edge.export --target tflite --int8 --qat

Exit status (convbert_edge/cli.py): 0 exported, verified and published at --out;
1 exported but outside its tolerance (kept at <out>.failed; --out untouched); 2 the export
could not be done (bad checkpoint, vocabulary, flags, an --out it may not replace, ...),
with a message that says what to do; 3 an internal error.

Under torchrun the QAT fine-tuning of ``--target executorch --int8 --qat`` is spread over
the processes (docs/distributed.md); rank 0 converts, writes and verifies, the other
ranks exit 0 when training is done:

    torchrun --standalone --nproc_per_node 2 -m convbert_edge.export --target executorch \
        --int8 --qat
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from convbert_edge.cache import CACHE_DIR_DEFAULT_HELP, cache_dir_for
from convbert_edge.cli import EXIT_OK, EXIT_OUTSIDE_TOLERANCE, add_verbose_flag, run_command
from convbert_edge.exporters.spec import SPEC
from convbert_edge.launch import distributed_from_environ, process_group
from convbert_edge.targets import Quantization, Target
from convbert_edge.tasks import Task


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m convbert_edge.export",
        description="Export a ConvBERT checkpoint to a TFLite, ExecuTorch or ONNX artifact "
        "(model, manifest.json, tokenizer files, golden.npz), then verify it against the "
        "fp32 reference on real text.",
    )
    p.add_argument(
        "--target",
        required=True,
        choices=[t.value for t in Target],
        help="tflite (LiteRT, from the Keras stack), executorch (XNNPACK, from the "
        "PyTorch stack) or onnx (ONNX Runtime, the peer path)",
    )
    q = p.add_mutually_exclusive_group()
    q.add_argument(
        "--int8",
        action="store_true",
        help="post-training int8 (int8 weights and activations, calibrated on real texts); "
        "same as --quant int8. For TFLite this is the fastest int8 on CPU runtimes that "
        "stays within the accuracy budget: the linear scope (see --int8-scope)",
    )
    q.add_argument(
        "--quant",
        choices=[m.value for m in Quantization],
        default=None,
        help="quantization: fp32 (default), fp16, dynamic-int8, int8, int16x8",
    )
    p.add_argument(
        "--model",
        default=None,
        help="checkpoint directory (config.json + model.safetensors or "
        "pytorch_model.bin [+ vocab.txt]) or a Hugging Face hub id; default: the "
        "embedded default model",
    )
    p.add_argument(
        "--task",
        choices=[t.value for t in Task],
        default=None,
        help="which head to export; default: the checkpoint's own architecture",
    )
    p.add_argument("--seq-len", type=int, default=128, help="static sequence length (default 128)")
    p.add_argument("--batch", type=int, default=1, help="static batch size (default 1)")
    p.add_argument(
        "--num-choices",
        type=int,
        default=4,
        help="choices per example for multiple-choice (default 4)",
    )
    p.add_argument(
        "--calibration",
        default=None,
        metavar="NAME_OR_FILE",
        help="calibration and golden texts: a data set name (default movie_reviews) "
        "or a UTF-8 file with one text per line",
    )
    p.add_argument(
        "--calibration-samples",
        type=int,
        default=256,
        help="texts for static int8 calibration (default 256; at least 200 advised)",
    )
    p.add_argument(
        "--golden-samples", type=int, default=32, help="texts in the golden bundle (default 32)"
    )
    p.add_argument(
        "--int8-io",
        action="store_true",
        help="full-int8 TFLite: int8 model outputs (scale and zero point in the "
        "manifest) instead of float32",
    )
    p.add_argument(
        "--int8-scope",
        choices=["linear", "all"],
        default=None,
        help="TFLite int8: linear (default: linear layers, depthwise convolution and "
        "embedding table in int8, LayerNorm/softmax/GELU float; the fastest on CPU "
        "runtimes and the most accurate) or all (the integer-only model that NPU, DSP and "
        "Edge TPU delegates need, traced with ops XNNPACK runs in int8: measured 1.2x the "
        "linear scope's latency on the default model, docs/int8_ops.md; default with "
        "--int8-io)",
    )
    p.add_argument(
        "--qat",
        action="store_true",
        help="with --int8: quantization-aware training before conversion; the model is "
        "fine-tuned under int8 fake quantization to match its own fp32 outputs on "
        "unlabelled training texts of --calibration (no labels needed; minutes)",
    )
    p.add_argument(
        "--qat-steps",
        type=int,
        default=None,
        help="QAT optimizer steps (default "
        + ", ".join(f"{qat.steps} for {t.value}" for t, qat in _qat_defaults().items())
        + ")",
    )
    p.add_argument(
        "--qat-accumulate",
        type=int,
        default=None,
        help="QAT texts per optimizer step (default 8; the export shape is static, so "
        "larger batches are summed gradients)",
    )
    p.add_argument(
        "--qat-lr", type=float, default=None, help="QAT peak learning rate (default 5e-6)"
    )
    p.add_argument(
        "--qat-no-fallback",
        action="store_true",
        help="with --qat: ship the QAT model even when it scores below post-training int8 "
        "on the labelled dev split (by default that split decides, and the manifest says "
        "which was shipped)",
    )
    p.add_argument(
        "--max-accuracy-drop",
        type=float,
        default=None,
        metavar="POINTS",
        help="with --int8: export the fastest recipe whose task metric on the labelled dev "
        "split of --calibration is at most POINTS below fp32 (all int8, else the most "
        "sensitive layers kept float, else fp32); e.g. 1.0",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="artifact directory (default artifacts/<model>-<task>-<target>-<quant>)",
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=f"where data sets and the default model are cached (default {CACHE_DIR_DEFAULT_HELP})",
    )
    p.add_argument("--threads", type=int, default=2, help="CPU threads for verification")
    add_verbose_flag(p)
    return p


def _qat_defaults() -> dict:
    """Target -> QatDefaults of the targets that offer QAT (exporters/spec.py)."""
    quant = Quantization.INT8
    return {t: o[quant].qat for t, o in SPEC.items() if quant in o and o[quant].qat}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cache = cache_dir_for(args.cache_dir, os.environ)
    quant = "int8" if args.int8 else (args.quant or "fp32")
    distributed = _distributed(args, quant)

    def body(say) -> int:
        from convbert_edge.exporters.pipeline import ExportOptions, export

        options = ExportOptions(
            target=args.target,
            quantization=quant,
            model=args.model,
            task=args.task,
            seq_len=args.seq_len,
            batch=args.batch,
            num_choices=args.num_choices,
            calibration=args.calibration,
            calibration_samples=args.calibration_samples,
            golden_samples=args.golden_samples,
            io_dtype="int8" if args.int8_io else "float32",
            out=args.out,
            cache_dir=cache,
            threads=args.threads,
            qat=args.qat,
            qat_steps=args.qat_steps,
            qat_accumulate=args.qat_accumulate,
            qat_lr=args.qat_lr,
            qat_fallback=not args.qat_no_fallback,
            max_accuracy_drop=args.max_accuracy_drop,
            int8_scope=args.int8_scope,
            distributed=distributed,
        )
        with process_group(distributed):
            result = export(options, log=say)
        return EXIT_OK if result.verify.passed else EXIT_OUTSIDE_TOLERANCE

    return run_command(
        "export", body, verbose=args.verbose, log_dir=Path(cache).expanduser() / "logs"
    )


def _distributed(args: argparse.Namespace, quant: str):
    """torchrun's rank, or None; only ExecuTorch QAT has work to share (exits 2 otherwise)."""
    try:
        # gloo even beside a GPU: the QAT graph is trained on the CPU, for XNNPACK
        distributed = distributed_from_environ(os.environ, cuda_available=False)
    except ValueError as err:
        build_parser().error(str(err))
    if distributed is not None and not (
        args.target == Target.EXECUTORCH.value and quant == "int8" and args.qat
    ):
        build_parser().error(
            "under torchrun only --target executorch --int8 --qat is spread over the "
            "processes (its QAT fine-tuning); run other exports as one process, without torchrun"
        )
    return distributed


if __name__ == "__main__":
    sys.exit(main())
