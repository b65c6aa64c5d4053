"""Measure how far each (target, quantization) lands from the fp32 reference.

The numbers behind runtime/tolerances.py: every head of a 2-layer model (random weights,
seeded) and the default model are exported with each recipe and verified on real-text
golden inputs; the worst value of each metric per (target, quantization) is printed as
a Markdown table for docs/tolerances.md.

    python benchmarks/measure_tolerances.py [--out /tmp/tolerance-runs] [--quick]
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections import defaultdict
from pathlib import Path

import torch

from convbert_edge.config import ConvBertConfig
from convbert_edge.exporters.pipeline import ExportOptions, export
from convbert_edge.exporters.spec import SPEC
from convbert_edge.tasks import Task
from convbert_edge.torch_stack import model_class

TINY = dict(
    vocab_size=30522,
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
    embedding_size=32,
    pad_token_id=0,
    max_position_embeddings=128,
)


def tiny_checkpoints(root: Path) -> dict[Task, Path]:
    out = {}
    for i, task in enumerate(Task):
        torch.manual_seed(i)
        out[task] = model_class(task)(ConvBertConfig(**TINY)).save_pretrained(root / task.value)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="tiny models only, no default model")
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="tolerances-"))
    runs = [(task, str(path), 64) for task, path in tiny_checkpoints(root / "ckpt").items()]
    if not args.quick:
        runs.append((None, None, 128))  # the default model, at its real shape
    worst: dict[tuple[str, str], dict[str, float]] = defaultdict(
        lambda: {"max_abs": 0.0, "cosine": 1.0, "sqnr_db": math.inf, "argmax": 1.0}
    )
    for target, quants in SPEC.items():
        for quant in quants:
            for task, model, seq_len in runs:
                result = export(
                    ExportOptions(
                        target=target,
                        quantization=quant,
                        model=model,
                        task=task,
                        seq_len=seq_len,
                        golden_samples=16,
                        out=root
                        / f"{target.value}-{quant.value}-{task.value if task else 'default'}",
                    ),
                    log=lambda _: None,
                )
                w = worst[(target.value, quant.value)]
                for m in result.verify.metrics:
                    w["max_abs"] = max(w["max_abs"], m.max_abs)
                    w["cosine"] = min(w["cosine"], m.cosine)
                    w["sqnr_db"] = min(w["sqnr_db"], m.sqnr_db)
                    w["argmax"] = min(w["argmax"], m.argmax_agreement)
                print(
                    f"{target.value:<10} {quant.value:<12} {task.value if task else 'default':<24} "
                    + " ".join(
                        f"{m.name}: cos {m.cosine:.5f} sqnr {m.sqnr_db:.1f}"
                        for m in result.verify.metrics
                    ),
                    flush=True,
                )
    print(
        "\n| target | quantization | worst max_abs | worst cosine | worst SQNR dB "
        "| worst argmax agreement |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for (target, quant), w in worst.items():
        print(
            f"| {target} | {quant} | {w['max_abs']:.3g} | {w['cosine']:.6f} "
            f"| {w['sqnr_db']:.1f} | {w['argmax']:.3f} |"
        )


if __name__ == "__main__":
    main()
