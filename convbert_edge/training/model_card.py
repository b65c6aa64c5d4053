"""MODEL_CARD.md: what a trained checkpoint is, what it was trained on, how, and how well."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from convbert_edge.io_utils import atomic_write_text

if TYPE_CHECKING:
    import torch

    from convbert_edge.training.config import TrainConfig
    from convbert_edge.training.data import TrainingData
    from convbert_edge.training.loop import TrainResult


def write_model_card(
    path: Path,
    config: TrainConfig,
    data: TrainingData,
    split_sizes: dict[str, int],
    result: TrainResult,
    model: torch.nn.Module,
) -> Path:
    """Write the card (Markdown) to path; every number in it comes from this run."""
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
    epochs = "\n".join(
        f"| {e.epoch} | {e.steps} | {e.train_loss:.4f} | {e.dev_score:.4f} | {e.seconds:.1f} |"
        for e in result.history
    )
    test = "n/a" if result.test_score is None else f"{result.test_score:.4f}"
    metric = result.metric
    sizes = ", ".join(f"{k} {v}" for k, v in split_sizes.items())
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
- inputs tokenized to exactly {config.seq_len} tokens (longer ones cut)

## Recipe

AdamW, linear warmup then linear decay to zero, no weight decay on biases and LayerNorm,
gradient norm clipped; training batches of exactly batch_size rows (the last partial
batch of each epoch is dropped); the epoch with the best dev score is kept.

| setting | value |
| --- | --- |
{recipe}

## Metrics

| epoch | steps | train loss | dev {metric} | seconds |
| --- | --- | --- | --- | --- |
{epochs}

Best epoch {result.best_epoch}: dev {metric} {result.best_dev_score:.4f}, test {metric} {test}.
{result.steps} steps at {result.seconds_per_step:.3f} s per step.

## Reproduce

```
{config.command()}
```
"""
    return atomic_write_text(path, text)
