"""The model the export CLI uses when no --model is named: a small trained sentiment model.

It ships inside the package (convbert_edge/assets/default_model): a ConvBERT with
conv-bert-small widths and 4 layers, trained from scratch (word embeddings started from
MiniLM's) on the movie-review snippets of convbert_edge.data by `convbert_edge.train`,
stored in float16 (read back as float32). MODEL_CARD.md beside the weights gives the data,
recipe and scores, and docs/default_model.md the command that reproduces it.
"""

from __future__ import annotations

from pathlib import Path

from convbert_edge.errors import CheckpointError

DEFAULT_NAME = "convbert-small-4l-sentiment"
DEFAULT_DIR = Path(__file__).parent / "assets" / "default_model"
DEFAULT_LABEL = (
    f"{DEFAULT_NAME}: 4-layer ConvBERT (conv-bert-small widths) trained on movie-review "
    "sentiment (see its MODEL_CARD.md)"
)


def default_checkpoint() -> Path:
    """The embedded default checkpoint directory (config.json, model.safetensors, card)."""
    for name in ("config.json", "model.safetensors"):
        if not (DEFAULT_DIR / name).is_file():
            raise CheckpointError(
                f"the embedded default model is missing {DEFAULT_DIR / name}: reinstall "
                "convbert-edge (the package data holds it) or name a checkpoint with --model"
            )
    return DEFAULT_DIR
