"""What a training run produced: per-epoch results and the run's summary.

Their own module so that model_card.py (which writes them into MODEL_CARD.md) and
loop.py (which fills them in and calls model_card) do not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class EpochResult:
    epoch: int
    steps: int  # optimizer steps so far
    train_loss: float  # mean over this epoch's batches
    dev_score: float  # the objective's metric (accuracy, entity F1, F1)
    seconds: float
    dev_scores: dict[str, float] = field(default_factory=dict)  # every dev metric


@dataclass
class TrainResult:
    """What a run produced: where, how it went per epoch, and the best epoch's scores."""

    out_dir: Path
    metric: str = "accuracy"
    history: list[EpochResult] = field(default_factory=list)
    best_epoch: int = 0
    best_dev_score: float = -1.0
    test_score: float | None = None
    best_dev_scores: dict[str, float] = field(default_factory=dict)  # every metric, best epoch
    test_scores: dict[str, float] | None = None
    steps: int = 0
    seconds_per_step: float = 0.0
    start: str = ""  # how the model was initialised, for the card
    processes: int = 1  # data-parallel ranks that shared each step
