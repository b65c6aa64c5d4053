"""Latency of the PyTorch stack against transformers' ConvBertModel, eager and as XNNPACK .pte.

    python benchmarks/bench_torch_stack.py [--preset conv-bert-small] [--seq-len 128]
        [--batch 1] [--threads 2] [--warmup 10] [--repeats 50]

Both models hold the same weights (transformers' initialisation, saved and loaded by
ours). Every variant gets the same warm-up and repeat count, and the repeats are taken
round-robin (one run of each variant in turn) so that drift on a shared machine hits all
variants alike. Prints median and p90 milliseconds and the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from convbert_edge.config import ConvBertConfig
from convbert_edge.runtime.pte import load_pte
from convbert_edge.tasks import INPUT_NAMES
from convbert_edge.torch_stack import ConvBertModel
from convbert_edge.torch_stack import export_utils as eu


@dataclass(frozen=True)
class BenchSettings:
    preset: str = "conv-bert-small"
    seq_len: int = 128
    batch: int = 1
    threads: int = 2
    warmup: int = 10
    repeats: int = 50


class _ReferenceForExport(torch.nn.Module):
    """transformers' ConvBertModel behind our positional signature, returning a tensor."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.model(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state


def build_models(config: ConvBertConfig, workdir: Path) -> tuple[torch.nn.Module, ConvBertModel]:
    """transformers' model with its own initialisation, and ours loaded from its checkpoint."""
    from transformers.models.convbert.configuration_convbert import ConvBertConfig as HFConfig
    from transformers.models.convbert.modeling_convbert import ConvBertModel as HFConvBertModel

    torch.manual_seed(0)
    reference = HFConvBertModel(HFConfig(**config.to_dict())).eval()
    reference.save_pretrained(workdir / "checkpoint")
    ours = ConvBertModel.from_pretrained(workdir / "checkpoint")
    return reference, ours


def lower_reference(
    reference: torch.nn.Module, inputs: tuple[torch.Tensor, ...], path: Path
) -> Path:
    wrapped = _ReferenceForExport(reference).eval()
    try:
        program = eu.export_program(wrapped, inputs, strict=True)
    except Exception:  # transformers' forward is not always dynamo-strict clean
        program = eu.export_program(wrapped, inputs, strict=False)
    return eu.write_pte(eu.lower_to_xnnpack(program), path)


def pte_runner(path: Path, inputs: tuple[torch.Tensor, ...], threads: int) -> Callable[[], object]:
    forward = load_pte(path, threads)  # runs as the Session does: torch's pool at 1 thread
    args = list(inputs)
    return lambda: forward(args)


def measure(
    variants: dict[str, Callable[[], object]], warmup: int, repeats: int
) -> dict[str, list[float]]:
    """Milliseconds per run of each variant, taken round-robin after the same warm-up."""
    for run in variants.values():
        for _ in range(warmup):
            run()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - start) * 1e3)
    return times


def run_benchmark(settings: BenchSettings) -> dict[str, list[float]]:
    torch.set_num_threads(settings.threads)  # eager; load_pte sets ExecuTorch's pool
    config = ConvBertConfig.preset(settings.preset)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        reference, ours = build_models(config, workdir)
        inputs = ours.example_inputs(settings.batch, settings.seq_len)
        ours_program = eu.export_program(ours, inputs)
        ours_pte = eu.write_pte(eu.lower_to_xnnpack(ours_program), workdir / "ours.pte")
        ref_pte = lower_reference(reference, inputs, workdir / "reference.pte")
        kwargs = dict(zip(INPUT_NAMES, inputs, strict=True))

        def eager(model: torch.nn.Module, **call) -> Callable[[], object]:
            def run():
                with torch.inference_mode():
                    return model(**call)

            return run

        variants = {
            "transformers eager": eager(reference, **kwargs),
            "ours eager": eager(ours, **kwargs),
            "transformers .pte xnnpack fp32": pte_runner(ref_pte, inputs, settings.threads),
            "ours .pte xnnpack fp32": pte_runner(ours_pte, inputs, settings.threads),
        }
        return measure(variants, settings.warmup, settings.repeats)


def report(times: dict[str, list[float]], settings: BenchSettings) -> str:
    def median(name: str) -> float:
        return statistics.median(times[name])

    lines = [
        f"{settings.preset}, seq {settings.seq_len}, batch {settings.batch}, "
        f"{settings.threads} threads, warm-up {settings.warmup}, "
        f"repeats {settings.repeats} (round-robin)",
        f"{'variant':34s} {'median ms':>10s} {'p90 ms':>10s}",
    ]
    for name, values in times.items():
        p90 = sorted(values)[int(0.9 * (len(values) - 1))]
        lines.append(f"{name:34s} {median(name):10.2f} {p90:10.2f}")
    eager_ratio = median("transformers eager") / median("ours eager")
    pte_ratio = median("transformers .pte xnnpack fp32") / median("ours .pte xnnpack fp32")
    lines.append(f"eager: ours is {eager_ratio:.2f}x faster than transformers")
    lines.append(f".pte xnnpack fp32: ours is {pte_ratio:.2f}x faster than transformers' lowering")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = BenchSettings()
    parser.add_argument("--preset", default=defaults.preset)
    parser.add_argument("--seq-len", type=int, default=defaults.seq_len)
    parser.add_argument("--batch", type=int, default=defaults.batch)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--warmup", type=int, default=defaults.warmup)
    parser.add_argument("--repeats", type=int, default=defaults.repeats)
    args = parser.parse_args(argv)
    settings = BenchSettings(
        preset=args.preset,
        seq_len=args.seq_len,
        batch=args.batch,
        threads=args.threads,
        warmup=args.warmup,
        repeats=args.repeats,
    )
    print(report(run_benchmark(settings), settings))


if __name__ == "__main__":
    main()
