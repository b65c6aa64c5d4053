"""The data sets training can use, as texts and label ids, and their tokenized batches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from convbert_edge.data import load_bbc_news_splits, load_movie_review_splits
from convbert_edge.data.bbc import BBC_NEWS_SOURCE, TOPICS
from convbert_edge.data.sentiment import LABELS as SENTIMENT_LABELS
from convbert_edge.data.sentiment import MOVIE_REVIEWS
from convbert_edge.tasks import Task


@dataclass(frozen=True)
class LabelledTexts:
    """One split for sequence classification: texts and their label ids, in split order."""

    texts: list[str]
    labels: list[int]

    def __post_init__(self) -> None:
        assert len(self.texts) == len(self.labels), "one label per text"

    def head(self, n: int | None) -> LabelledTexts:
        """The first n examples (all when n is None)."""
        return self if n is None else LabelledTexts(self.texts[:n], self.labels[:n])


@dataclass(frozen=True)
class TrainingData:
    """What a run trains and evaluates on, and what the model card says about it."""

    name: str
    task: Task
    id2label: dict[int, str]
    source: str  # the registry package it came from, for the model card
    train: LabelledTexts
    dev: LabelledTexts
    test: LabelledTexts | None


def _labelled(examples) -> LabelledTexts:
    return LabelledTexts([e.text for e in examples], [e.label for e in examples])


def movie_reviews(cache_dir: Path | None) -> TrainingData:
    s = load_movie_review_splits(cache_dir)
    src = MOVIE_REVIEWS.source
    return TrainingData(
        "movie_reviews",
        Task.SEQUENCE_CLASSIFICATION,
        dict(enumerate(SENTIMENT_LABELS)),
        f"{src.requirement} ({src.filename}, sha256 {src.sha256})",
        _labelled(s.train),
        _labelled(s.dev),
        _labelled(s.test),
    )


def bbc_news(cache_dir: Path | None) -> TrainingData:
    s = load_bbc_news_splits(cache_dir)
    src = BBC_NEWS_SOURCE
    return TrainingData(
        "bbc_news",
        Task.SEQUENCE_CLASSIFICATION,
        dict(enumerate(TOPICS)),
        f"{src.requirement} ({src.filename}, sha256 {src.sha256})",
        _labelled(s.train),
        _labelled(s.dev),
        _labelled(s.test),
    )


# name -> loader(cache_dir). Token classification (wnut16) and QA (squad) are still to come.
TRAINING_DATA: dict[str, Callable[[Path | None], TrainingData]] = {
    "movie_reviews": movie_reviews,
    "bbc_news": bbc_news,
}


@dataclass(frozen=True)
class EncodedSplit:
    """A split tokenized to a static (n, seq_len) shape, as int64 tensors."""

    input_ids: torch.Tensor  # (n, s)
    attention_mask: torch.Tensor  # (n, s)
    token_type_ids: torch.Tensor  # (n, s)
    labels: torch.Tensor  # (n,)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(input_ids, attention_mask, token_type_ids, labels) of the rows in index."""
        return (
            self.input_ids[index],
            self.attention_mask[index],
            self.token_type_ids[index],
            self.labels[index],
        )


def encode(tokenizer, split: LabelledTexts, seq_len: int) -> EncodedSplit:
    """Tokenize with padding to seq_len; longer texts are cut (truncation=True)."""
    enc = tokenizer(
        split.texts, padding="max_length", truncation=True, max_length=seq_len, return_tensors="np"
    )
    ids, mask, types = (
        torch.from_numpy(enc[k]).to(torch.long)
        for k in ("input_ids", "attention_mask", "token_type_ids")
    )
    return EncodedSplit(ids, mask, types, torch.tensor(split.labels, dtype=torch.long))
