"""The model the export CLI uses when no --model is named.

Until the trained sentiment model ships (see docs/default_model.md), the default is a
randomly initialised conv-bert-small sequence classifier, made deterministically from a
fixed seed and cached as an ordinary Hugging Face checkpoint directory. Its outputs
mean nothing; it exists so that export, verify and the latency figures run on the real
shape without a download. Every artifact made from it says so in its manifest.
"""

from __future__ import annotations

from pathlib import Path

from convbert_edge.config import ConvBertConfig

DEFAULT_NAME = "random-conv-bert-small"
DEFAULT_LABEL = (
    "RANDOMLY INITIALISED conv-bert-small (seed 0): shapes of the real model, "
    "meaningless predictions"
)
SEED = 0
LABELS = {0: "negative", 1: "positive"}


def default_config() -> ConvBertConfig:
    return ConvBertConfig.preset("conv-bert-small", id2label=LABELS)


def default_checkpoint(cache_dir: str | Path) -> Path:
    """The default checkpoint directory, created under ``cache_dir`` on first use."""
    import torch

    from convbert_edge.torch_stack import ConvBertForSequenceClassification

    directory = Path(cache_dir) / "models" / DEFAULT_NAME
    if (directory / "model.safetensors").is_file() and (directory / "config.json").is_file():
        return directory
    torch.manual_seed(SEED)
    model = ConvBertForSequenceClassification(default_config())
    model.save_pretrained(directory)
    return directory
