"""TrainConfig: everything one fine-tuning run depends on, and the command line that makes it."""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convbert_edge.config import PRESETS
from convbert_edge.errors import ConfigError
from convbert_edge.torch_stack.loading import SAVE_DTYPES

EMBEDDING_INITS = ("minilm",)


@dataclass
class TrainConfig:
    """A fine-tuning run: data, starting model, recipe and where the result goes.

    Args:
        dataset: a data set name of ``data.DATASETS`` ("movie_reviews", ...).
        out_dir: where the best checkpoint, vocab.txt, MODEL_CARD.md and metrics.json go.
        model_dir: fine-tune this checkpoint (a fresh head is put on it); None trains
            from scratch with ``preset`` and ``num_layers``.
        preset: the ConvBertConfig preset whose widths a from-scratch model takes.
        num_layers: encoder layers of a from-scratch model (None: the preset's).
        model_overrides: other ConvBertConfig fields of a from-scratch model (tests use
            this for tiny widths), e.g. {"hidden_size": 32}.
        init_embeddings: "minilm" starts the word embeddings of a from-scratch model from
            the MiniLM checkpoint's, reduced to embedding_size by PCA; None: random.
        seq_len, batch_size, eval_batch_size: static shapes of training and evaluation.
            batch_size is the global batch of one optimizer step: rows per forward pass
            x processes (torchrun) x ``accumulate``, so one process and N train alike.
        accumulate: micro-batches whose gradients are summed into one step on each
            process (for a batch that does not fit in memory at once).
        epochs, lr, warmup_ratio, weight_decay: AdamW with linear warmup then linear decay
            to zero; biases and LayerNorm weights get no weight decay.
        max_grad_norm: clip the gradient norm to this before each step.
        seed: seeds the model's initialisation, dropout and the data order.
        max_train_examples, max_eval_examples: use only the first N examples of the
            (already shuffled) splits; None uses all.
        max_steps: stop after this many optimizer steps (timing runs); None runs all epochs.
        log_every: a progress line every N steps.
        threads: torch threads (None leaves torch's setting alone).
        save_dtype: "float32", or "float16" to store the checkpoint in half the space
            (the test score is then measured on the stored, float16-rounded weights).
        cache_dir: the data cache (None: ~/.cache/convbert_edge).
        overwrite: allow an out_dir that already holds a checkpoint.

    Example:
        >>> cfg = TrainConfig("movie_reviews", Path("out"), num_layers=4, epochs=3)
        >>> cfg.command().startswith("python -m convbert_edge.train --dataset movie_reviews")
        True
    """

    dataset: str
    out_dir: Path
    model_dir: Path | None = None
    preset: str = "conv-bert-small"
    num_layers: int | None = 4
    model_overrides: dict[str, Any] = field(default_factory=dict)
    init_embeddings: str | None = None
    seq_len: int = 128
    batch_size: int = 32
    eval_batch_size: int = 64
    accumulate: int = 1
    epochs: int = 3
    lr: float = 3e-4
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    seed: int = 0
    max_train_examples: int | None = None
    max_eval_examples: int | None = None
    max_steps: int | None = None
    log_every: int = 50
    threads: int | None = None
    save_dtype: str = "float32"
    cache_dir: Path | None = None
    overwrite: bool = False

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        self.model_dir = None if self.model_dir is None else Path(self.model_dir)
        self.cache_dir = None if self.cache_dir is None else Path(self.cache_dir)

    def validate(self, datasets: tuple[str, ...]) -> None:
        """Raise ConfigError naming the first bad value and what would be valid."""
        if self.dataset not in datasets:
            raise ConfigError(f"unknown data set {self.dataset!r}; valid: {sorted(datasets)}")
        positive = ("seq_len", "batch_size", "eval_batch_size", "accumulate", "epochs", "log_every")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        for name in ("num_layers", "max_train_examples", "max_eval_examples", "max_steps"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1 or unset, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive, got {self.lr!r}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio!r}")
        if not self.max_grad_norm > 0:
            raise ConfigError(f"max_grad_norm must be positive, got {self.max_grad_norm!r}")
        if self.save_dtype not in SAVE_DTYPES:
            raise ConfigError(f"save_dtype {self.save_dtype!r}: choose one of {SAVE_DTYPES}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.init_embeddings is not None and self.init_embeddings not in EMBEDDING_INITS:
            raise ConfigError(
                f"unknown init_embeddings {self.init_embeddings!r}; valid: {list(EMBEDDING_INITS)}"
            )
        if self.model_dir is not None:
            if not (self.model_dir / "config.json").is_file():
                raise ConfigError(
                    f"no checkpoint at {self.model_dir}: --model-dir must hold config.json "
                    "and model.safetensors (or train from scratch with --preset)"
                )
            if self.init_embeddings is not None or self.model_overrides:
                raise ConfigError(
                    "--init-embeddings and --model-arg shape a model trained from scratch; "
                    "drop them when fine-tuning --model-dir"
                )
        elif self.preset not in PRESETS:
            raise ConfigError(f"unknown preset {self.preset!r}; valid: {sorted(PRESETS)}")
        if (self.out_dir / "model.safetensors").exists() and not self.overwrite:
            raise ConfigError(
                f"{self.out_dir} already holds a checkpoint; choose another --out-dir "
                "or pass --overwrite"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly fields (paths as strings), for the model card and metrics.json."""
        out = dataclasses.asdict(self)
        return {k: str(v) if isinstance(v, Path) else v for k, v in out.items()}

    def command(self) -> str:
        """The ``python -m convbert_edge.train`` line that makes this run again."""
        default = TrainConfig(self.dataset, self.out_dir)
        args = ["python", "-m", "convbert_edge.train"]
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("cache_dir", "overwrite"):  # where data lives changes no result
                continue
            if f.name not in ("dataset", "out_dir") and value == getattr(default, f.name):
                continue
            flag = "--" + f.name.replace("_", "-")
            if f.name == "model_overrides":
                for key, item in sorted(value.items()):
                    args += ["--model-arg", f"{key}={item}"]
            elif isinstance(value, bool):
                args.append(flag)
            elif value is None:
                args += [flag, "none"]
            else:
                args += [flag, str(value)]
        return shlex.join(args)
