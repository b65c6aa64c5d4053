"""Fine-tuning ConvBERT models: ``python -m convbert_edge.train`` calls ``train(TrainConfig)``.

- config: TrainConfig, the whole run as one dataclass, and the command that repeats it.
- data: a data set of data.DATASETS as texts and labels (training_data), tokenized splits.
- embeddings: MiniLM word embeddings reduced by PCA, to start a model from scratch.
- objectives: per task, the model class, loss and dev metrics (accuracy, entity F1,
  SQuAD exact match and F1).
- qa: question answering windows, best-span search and SQuAD EM/F1, numpy only (the
  runtime scores exported artifacts with it).
- loop: the seeded training loop, evaluation and checkpointing.
- model_card: MODEL_CARD.md beside the weights.
"""

from __future__ import annotations

from convbert_edge.training.config import TrainConfig
from convbert_edge.training.data import (
    LabelledTexts,
    LabelledWords,
    Questions,
    TrainingData,
    training_data,
)
from convbert_edge.training.loop import train
from convbert_edge.training.results import EpochResult, TrainResult

__all__ = [
    "EpochResult",
    "LabelledTexts",
    "LabelledWords",
    "Questions",
    "TrainConfig",
    "TrainResult",
    "TrainingData",
    "train",
    "training_data",
]
