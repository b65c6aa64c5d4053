"""Per task: which model, which loss, which dev metric. ``OBJECTIVES`` is keyed by Task.

Sequence classification scores accuracy. Token classification scores entity-level
micro F1 over BIO spans (CoNLL-2003's conlleval rule: a span is a B-X or a stray I-X
followed by I-X of the same type), counted on each word's first piece.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from convbert_edge.tasks import Task
from convbert_edge.torch_stack import (
    ConvBertForSequenceClassification,
    ConvBertForTokenClassification,
    ConvBertPreTrainedModel,
)
from convbert_edge.training.data import IGNORE_INDEX, EncodedSplit


@dataclass(frozen=True)
class Objective:
    """What training a task means.

    Args:
        model_class: the torch_stack class to build or load.
        metric: the dev score's name, as logs and the model card show it.
        loss: (logits, labels) -> scalar loss.
        score: (predictions, labels, id2label) -> the metric, from arg-max predictions
            and labels of one whole split (shapes as EncodedSplit.labels).
    """

    model_class: type[ConvBertPreTrainedModel]
    metric: str
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    score: Callable[[torch.Tensor, torch.Tensor, dict[int, str]], float]


def accuracy(predictions: torch.Tensor, labels: torch.Tensor, id2label=None) -> float:
    """Share of rows whose prediction is the label."""
    return float((predictions == labels).float().mean()) if len(labels) else 0.0


def bio_spans(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """(type, first, last) of each entity in a BIO tag sequence."""
    spans: set[tuple[str, int, int]] = set()
    kind, start = None, 0
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, tag_kind = tag.partition("-")
        continues = prefix == "I" and tag_kind == kind
        if kind is not None and not continues:
            spans.add((kind, start, i - 1))
            kind = None
        if prefix in ("B", "I") and not continues:
            kind, start = tag_kind, i
    return spans


def entity_f1(predictions: torch.Tensor, labels: torch.Tensor, id2label: dict[int, str]) -> float:
    """Micro F1 of predicted entity spans against gold ones, over all rows."""
    found = correct = gold = 0
    for pred_row, label_row in zip(predictions, labels, strict=True):
        keep = label_row != IGNORE_INDEX  # each word's first piece, in word order
        truth = bio_spans([id2label[int(i)] for i in label_row[keep]])
        guess = bio_spans([id2label[int(i)] for i in pred_row[keep]])
        found, gold, correct = found + len(guess), gold + len(truth), correct + len(guess & truth)
    if correct == 0:
        return 0.0
    precision, recall = correct / found, correct / gold
    return 2 * precision * recall / (precision + recall)


def token_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    # logits (b, s, labels), labels (b, s) with IGNORE_INDEX off the first pieces
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX)


OBJECTIVES: dict[Task, Objective] = {
    Task.SEQUENCE_CLASSIFICATION: Objective(
        ConvBertForSequenceClassification, "accuracy", F.cross_entropy, accuracy
    ),
    Task.TOKEN_CLASSIFICATION: Objective(
        ConvBertForTokenClassification, "entity F1", token_loss, entity_f1
    ),
}


@torch.no_grad()
def evaluate(
    model: ConvBertPreTrainedModel,
    split: EncodedSplit,
    objective: Objective,
    id2label: dict[int, str],
    batch_size: int,
) -> float:
    """The objective's metric of model on a split (eval mode, no dropout)."""
    model.eval()
    predictions = []
    for start in range(0, len(split), batch_size):
        ids, mask, types, _ = split.batch(torch.arange(start, min(start + batch_size, len(split))))
        predictions.append(model(ids, mask, types)["logits"].argmax(dim=-1))  # (b,) or (b, s)
    if not predictions:
        return 0.0
    return objective.score(torch.cat(predictions), split.labels, id2label)
