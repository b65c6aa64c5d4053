"""Task accuracy of anything that runs a model call: artifacts, eager models, peers.

    data = eval_set("movie_reviews", tokenizer, seq_len=128)   # the held-out test split
    fp32 = evaluate(eager_runner(model), data)
    int8 = evaluate(load("artifacts/tflite-int8").run, data)
    print(int8.score - fp32.score, agreement(int8, fp32))

A "run" is any callable taking a dict of int32 inputs shaped (batch, seq_len) and
returning a dict of numpy outputs (``Session.run`` is one). Every example is scored
with the padding the artifacts use ("max_length" to seq_len), so eager and device
predictions are comparable example by example.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from convbert_edge.data import DATASETS
from convbert_edge.errors import ConfigError
from convbert_edge.tasks import INPUT_NAMES, Task
from convbert_edge.training.data import IGNORE_INDEX, encode, squad_dev_subset, training_data
from convbert_edge.training.objectives import OBJECTIVES
from convbert_edge.training.qa import (
    QaFeatures,
    best_answers,
    build_qa_features,
    model_calls,
    squad_scores,
)

Run = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


@dataclass(frozen=True)
class EvalSet:
    """A held-out split as static-shape model calls plus what scoring them needs.

    Args:
        name: data set and split, e.g. "movie_reviews/test".
        task: which head's output is scored.
        metric: the score's name ("accuracy", "entity F1").
        calls: model inputs, each a dict of int32 arrays shaped (batch, seq_len); the
            last call is filled up with copies of its last row, which are not scored.
        labels: (n,) per sequence, or (n, seq_len) per token with IGNORE_INDEX.
        id2label: label names, for metrics that need them (BIO spans).
        qa: question answering's windows (calls are one per window, labels one per
            question); None for the other tasks.
    """

    name: str
    task: Task
    metric: str
    calls: list[dict[str, np.ndarray]]
    labels: np.ndarray
    id2label: dict[int, str] = field(default_factory=dict)
    qa: QaFeatures | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class EvalResult:
    """The score of one run on an EvalSet, and its predictions (same shape as labels;
    answer strings for question answering)."""

    name: str
    metric: str
    score: float
    predictions: np.ndarray
    scored: np.ndarray  # bool, shape of predictions: which entries the metric counts
    extra: dict[str, float] = field(default_factory=dict)  # other metrics (QA: F1)


# The output whose arg-max is the prediction, per task.
_LOGITS = {Task.SEQUENCE_CLASSIFICATION: "logits", Task.TOKEN_CLASSIFICATION: "logits"}


def eval_set(
    dataset: str,
    tokenizer,
    seq_len: int,
    *,
    split: str = "test",
    batch: int = 1,
    limit: int | None = None,
    cache_dir: Path | None = None,
) -> EvalSet:
    """A data set's held-out split tokenized as the artifacts see it.

    Args:
        dataset: a name from convbert_edge.data.DATASETS (its entry says the task).
        split: "test", or "dev"; a data set without a test split (wnut16) is scored on dev.
        batch: rows per call, the artifact's static batch size.
        limit: score only the first ``limit`` examples.
    """
    if dataset not in DATASETS:
        raise ConfigError(f"no evaluation for data set {dataset!r}; valid: {sorted(DATASETS)}")
    if split not in ("test", "dev"):
        raise ConfigError(f"split must be 'test' or 'dev', not {split!r}")
    task = DATASETS[dataset].task
    if task is Task.QUESTION_ANSWERING:
        return _squad_set(tokenizer, seq_len, batch, limit, cache_dir)
    data = training_data(dataset, cache_dir)
    held_out = getattr(data, split) or data.dev
    name = f"{dataset}/{split if getattr(data, split) is not None else 'dev'}"
    encoded = encode(tokenizer, held_out.head(limit), seq_len)
    if len(encoded) == 0:
        raise ConfigError(f"{name} has no examples to score")
    columns = {
        "input_ids": encoded.input_ids.numpy(),
        "attention_mask": encoded.attention_mask.numpy(),
        "token_type_ids": encoded.token_type_ids.numpy(),
    }
    n = len(encoded)
    calls = []
    for start in range(0, n, batch):
        rows = np.minimum(np.arange(start, start + batch), n - 1)  # fill with the last row
        calls.append({k: columns[k][rows].astype(np.int32) for k in INPUT_NAMES})
    metric = "accuracy" if task is Task.SEQUENCE_CLASSIFICATION else "entity F1"
    return EvalSet(name, task, metric, calls, encoded.labels.numpy(), dict(data.id2label))


def _squad_set(tokenizer, seq_len, batch, limit, cache_dir) -> EvalSet:
    """SQuAD's dev subset (training.data.squad_dev_subset) as windows of seq_len tokens."""
    if batch != 1:
        raise ConfigError("question answering is scored at batch 1 (one window a call)")
    examples = squad_dev_subset(cache_dir)[:limit]
    features = build_qa_features(examples, tokenizer, seq_len)
    calls = list(model_calls(features))
    labels = np.arange(len(examples))  # one entry per question; the answers are in qa
    return EvalSet("squad/dev", Task.QUESTION_ANSWERING, "exact match", calls, labels, qa=features)


def evaluate(run: Run, data: EvalSet, log: Callable[[str], None] | None = None) -> EvalResult:
    """Run every call of ``data`` and score the arg-max predictions (QA: best spans)."""
    if data.qa is not None:
        return _evaluate_qa(run, data, log)
    output = _LOGITS[data.task]
    rows = []
    for i, call in enumerate(data.calls):
        logits = np.asarray(run(call)[output])  # (batch, labels) or (batch, seq, labels)
        rows.append(logits.argmax(axis=-1))
        if log is not None and (i + 1) % 250 == 0:
            log(f"      scored {i + 1}/{len(data.calls)} calls")
    predictions = np.concatenate(rows)[: len(data)]
    return EvalResult(
        data.name,
        data.metric,
        _score(data, predictions),
        predictions,
        scored=data.labels != IGNORE_INDEX,
    )


def _evaluate_qa(run: Run, data: EvalSet, log) -> EvalResult:
    starts, ends = [], []
    for i, call in enumerate(data.calls):
        out = run(call)
        starts.append(np.asarray(out["start_logits"]))  # (1, seq)
        ends.append(np.asarray(out["end_logits"]))
        if log is not None and (i + 1) % 250 == 0:
            log(f"      scored {i + 1}/{len(data.calls)} windows")
    answers = best_answers(data.qa, starts, ends)
    scores = squad_scores(data.qa.examples, answers)
    predictions = np.array(answers, dtype=object)
    return EvalResult(
        data.name,
        data.metric,
        scores.exact_match,
        predictions,
        scored=np.ones(len(answers), bool),
        extra={"f1": scores.f1},
    )


def agreement(a: EvalResult, b: EvalResult) -> float:
    """Share of scored predictions (examples, labelled tokens, or QA answer strings) on
    which a and b agree."""
    if a.predictions.shape != b.predictions.shape or a.name != b.name:
        raise ValueError(
            f"results of different sets: {a.name} {a.predictions.shape} vs "
            f"{b.name} {b.predictions.shape}"
        )
    same = a.predictions == b.predictions
    return float(same[a.scored].mean())


def eager_runner(model) -> Run:
    """A PyTorch stack (or transformers) model as a Run: eval mode, no grad, numpy out."""
    import torch

    model.eval()

    def run(call: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        args = {k: torch.from_numpy(np.asarray(call[k], np.int64)) for k in INPUT_NAMES}
        with torch.no_grad():
            out = model(**args)
        # our models return a dict; transformers' ModelOutput is one too
        return {k: v.numpy() for k, v in out.items() if isinstance(v, torch.Tensor)}

    return run


def _score(data: EvalSet, predictions: np.ndarray) -> float:
    import torch

    objective = OBJECTIVES[data.task]
    return float(
        objective.score(torch.from_numpy(predictions), torch.from_numpy(data.labels), data.id2label)
    )
