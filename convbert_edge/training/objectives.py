"""Per task: which model, which loss, which dev metrics. ``OBJECTIVES`` is keyed by Task.

Sequence classification scores accuracy. Token classification scores entity-level
micro F1 over BIO spans (CoNLL-2003's conlleval rule: a span is a B-X or a stray I-X
followed by I-X of the same type), counted on each word's first piece. Question
answering scores SQuAD v1.1 exact match and F1 of the best span (training.qa); F1 picks
the best epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from convbert_edge.distributed import Distributed, all_gather_rows, rank_range
from convbert_edge.tasks import Task
from convbert_edge.torch_stack import (
    ConvBertForQuestionAnswering,
    ConvBertForSequenceClassification,
    ConvBertForTokenClassification,
    ConvBertPreTrainedModel,
)
from convbert_edge.training import qa
from convbert_edge.training.data import IGNORE_INDEX, EncodedSplit

Scores = dict[str, float]


@dataclass(frozen=True)
class Objective:
    """What training a task means.

    Args:
        model_class: the torch_stack class to build or load.
        metric: the dev score that picks the best epoch, named as logs and the card show it.
        loss: (logits, labels) -> scalar loss.
        score: (predictions, labels, id2label) -> the metric, from arg-max predictions
            and labels of one whole split (shapes as EncodedSplit.labels); None where
            the prediction is no arg-max (question answering searches spans).
        scores: (logits, split, id2label) -> every dev metric by name, ``metric`` among
            them, from the logits of one whole split.
        description: how the metrics are computed, one sentence for the model card.
        outputs: the model outputs that make ``logits``, stacked on a last axis when
            there are several (question answering: start and end, (b, s, 2)).
    """

    model_class: type[ConvBertPreTrainedModel]
    metric: str
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    score: Callable[[torch.Tensor, torch.Tensor, dict[int, str]], float] | None
    scores: Callable[[torch.Tensor, EncodedSplit, dict[int, str]], Scores]
    description: str
    outputs: tuple[str, ...] = ("logits",)

    def logits(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The model's outputs as the one tensor loss and scores take."""
        if len(self.outputs) == 1:
            return outputs[self.outputs[0]]
        return torch.stack([outputs[name] for name in self.outputs], dim=-1)


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


def span_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean of the start and the end cross-entropy over the sequence positions."""
    # logits (b, s, 2) start/end, labels (b, 2) token positions
    per_side = logits.transpose(1, 2).flatten(0, 1)  # (b * 2, s)
    return F.cross_entropy(per_side, labels.flatten(), ignore_index=IGNORE_INDEX)


def squad_scores(logits: torch.Tensor, split: EncodedSplit, id2label=None) -> Scores:
    """Exact match and F1 of the best spans (training.qa), from (n, s, 2) window logits."""
    if split.qa is None:
        raise ValueError("question answering scores need a split made by encode_questions")
    values = logits.detach().float().numpy()  # (n, s, 2)
    found = qa.score_logits(split.qa, values[..., 0], values[..., 1])
    return {"exact match": found.exact_match, "F1": found.f1}


def _argmax(metric: str, score) -> Callable[[torch.Tensor, EncodedSplit, dict], Scores]:
    def scores(logits: torch.Tensor, split: EncodedSplit, id2label: dict[int, str]) -> Scores:
        return {metric: score(logits.argmax(dim=-1), split.labels, id2label)}

    return scores


OBJECTIVES: dict[Task, Objective] = {
    Task.SEQUENCE_CLASSIFICATION: Objective(
        ConvBertForSequenceClassification,
        "accuracy",
        F.cross_entropy,
        accuracy,
        _argmax("accuracy", accuracy),
        "accuracy: share of examples whose arg-max label is the gold label.",
    ),
    Task.TOKEN_CLASSIFICATION: Objective(
        ConvBertForTokenClassification,
        "entity F1",
        token_loss,
        entity_f1,
        _argmax("entity F1", entity_f1),
        "entity F1: micro F1 of exact (type, first word, last word) entity spans, read "
        "from the arg-max BIO tag of each word's first piece by conlleval's rule.",
    ),
    Task.QUESTION_ANSWERING: Objective(
        ConvBertForQuestionAnswering,
        "F1",
        span_loss,
        None,
        squad_scores,
        "exact match and F1 as SQuAD v1.1's evaluate-v1.1.py computes them (answers "
        "lower-cased, without punctuation, articles and extra spaces; best over the gold "
        "answers; F1 over words; fractions, not percent), of the best span of at most "
        f"{qa.MAX_ANSWER_TOKENS} context tokens (start logit + end logit) over all windows "
        "of a question, cut from the context by the tokens' character offsets.",
        outputs=("start_logits", "end_logits"),
    ),
}


@torch.no_grad()
def evaluate(
    model: ConvBertPreTrainedModel,
    split: EncodedSplit,
    objective: Objective,
    id2label: dict[int, str],
    batch_size: int,
    distributed: Distributed | None = None,
) -> Scores:
    """Every dev metric of the objective for model on a split (eval mode, no dropout).

    With ``distributed`` each rank runs a contiguous share of the rows and the logits are
    gathered, so every rank computes the same scores from the whole split.
    """
    model.eval()
    device = next(model.parameters()).device
    rows = rank_range(len(split), distributed)
    logits = []
    for start in range(rows.start, rows.stop, batch_size):
        index = torch.arange(start, min(start + batch_size, rows.stop))
        ids, mask, types, _ = (t.to(device) for t in split.batch(index))
        logits.append(objective.logits(model(ids, mask, types)))  # (b, ...) as the labels
    if distributed is not None:
        mine = torch.cat(logits) if logits else _no_rows(model, split, objective, device)
        gathered = all_gather_rows(mine, distributed)
        logits = [gathered.cpu()] if len(gathered) else []
    if not logits:
        return {}
    return objective.scores(torch.cat(logits), split, id2label)


def _no_rows(model, split: EncodedSplit, objective: Objective, device) -> torch.Tensor:
    """Zero rows of the logits' shape, for a rank whose share of a small split is empty."""
    ids, mask, types, _ = (t.to(device) for t in split.batch(torch.arange(min(1, len(split)))))
    if len(ids) == 0:
        return torch.zeros(0, device=device)
    return objective.logits(model(ids, mask, types))[:0]
