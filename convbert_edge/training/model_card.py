"""MODEL_CARD.md: what a trained checkpoint is, what it was trained on, how, and how well."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from convbert_edge.io_utils import atomic_write_text
from convbert_edge.tasks import Task

if TYPE_CHECKING:
    import torch

    from convbert_edge.training.config import TrainConfig
    from convbert_edge.training.data import TrainingData
    from convbert_edge.training.results import TrainResult


def write_model_card(
    path: Path,
    config: TrainConfig,
    data: TrainingData,
    split_sizes: dict[str, int],
    result: TrainResult,
    model: torch.nn.Module,
    metric_description: str = "",
) -> Path:
    """Write the card (Markdown) to path; every number in it comes from this run.

    ``metric_description`` says how the dev metrics are computed (Objective.description).
    """
    mc = model.config
    n_params = sum(p.numel() for p in model.parameters())
    weights = path.parent / "model.safetensors"
    size_mb = weights.stat().st_size / 1e6 if weights.is_file() else float("nan")
    labels = ", ".join(f"{i}={name}" for i, name in sorted(data.id2label.items()))
    recipe = "\n".join(
        f"| {k} | {v} |"
        for k, v in config.to_dict().items()
        if k not in ("out_dir", "cache_dir", "overwrite")
    )
    names = list(result.best_dev_scores) or [result.metric]
    epochs = "\n".join(
        f"| {e.epoch} | {e.steps} | {e.train_loss:.4f} | "
        + " | ".join(f"{e.dev_scores.get(n, e.dev_score):.4f}" for n in names)
        + f" | {e.seconds:.1f} |"
        for e in result.history
    )
    header = " | ".join(f"dev {n}" for n in names)
    rule = " | ".join("---" for _ in names)
    best = {n: result.best_dev_scores.get(n, result.best_dev_score) for n in names}
    scores = ", ".join(f"dev {n} {v:.4f}" for n, v in best.items())
    tests = result.test_scores or {}
    scores += "".join(
        f", test {n} n/a" if n not in tests else f", test {n} {tests[n]:.4f}" for n in names
    )
    sizes = ", ".join(f"{k} {v}" for k, v in split_sizes.items())
    if data.task is Task.QUESTION_ANSWERING:
        shape = (
            f"question + context pairs as windows of exactly {config.seq_len} tokens "
            "(long contexts cut into overlapping windows; training keeps the windows "
            "that hold the whole answer, dev scores all of them)"
        )
    else:
        shape = f"inputs tokenized to exactly {config.seq_len} tokens (longer ones cut)"
    per_pass = config.batch_size // (result.processes * config.accumulate)
    batch = (
        f"Global batch {config.batch_size} = {per_pass} rows per pass x {result.processes} "
        f"process{'es' if result.processes > 1 else ''} x {config.accumulate} accumulation "
        "step(s); the same command on any number of processes trains the same model."
    )
    text = f"""# ConvBERT {data.task.value}: {data.name}

A ConvBERT {data.task.value} model made by `convbert_edge.train`.

## Model

- {result.start}
- hidden {mc.hidden_size}, {mc.num_hidden_layers} layers, {mc.num_attention_heads} heads,
  FFN {mc.intermediate_size}, embedding {mc.embedding_size}, kernel {mc.conv_kernel_size},
  vocabulary {mc.vocab_size} (bert-base-uncased vocab.txt, shipped beside the weights)
- {n_params:,} parameters; model.safetensors {size_mb:.1f} MB
- labels: {labels}

## Data

- {data.name} from {data.source}
- fixed split of convbert_edge.data; examples used: {sizes}
- {shape}

## Recipe

AdamW, linear warmup then linear decay to zero, no weight decay on biases and LayerNorm,
gradient norm clipped; training batches of exactly batch_size rows (the last partial
batch of each epoch is dropped); the epoch with the best dev score is kept.
{batch}

| setting | value |
| --- | --- |
{recipe}

## Metrics

{metric_description}

| epoch | steps | train loss | {header} | seconds |
| --- | --- | --- | {rule} | --- |
{epochs}

Best epoch {result.best_epoch} (by dev {result.metric}): {scores}.
{result.steps} steps at {result.seconds_per_step:.3f} s per step.

## Reproduce

```
{config.command()}
```
"""
    return atomic_write_text(path, text)
