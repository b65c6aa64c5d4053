"""convbert_edge.evaluation: scoring runs on held-out splits, agreement, eager runners."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from convbert_edge.errors import ConfigError
from convbert_edge.evaluation import EvalSet, agreement, eager_runner, eval_set, evaluate
from convbert_edge.tasks import Task
from convbert_edge.tokenizer import ConvBertTokenizerFast
from convbert_edge.torch_stack import ConvBertForSequenceClassification
from convbert_edge.training.data import IGNORE_INDEX
from tests.torch_helpers import tiny_config

SEQ = 8


def _sequence_set(labels: list[int], batch: int) -> EvalSet:
    """Calls whose first token id encodes the example's label, so a fake run can echo it."""
    n = len(labels)
    calls = []
    for start in range(0, n, batch):
        rows = [min(i, n - 1) for i in range(start, start + batch)]
        ids = np.zeros((batch, SEQ), np.int32)
        ids[:, 0] = [labels[r] for r in rows]
        calls.append(
            {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": 0 * ids}
        )
    return EvalSet("fake/test", Task.SEQUENCE_CLASSIFICATION, "accuracy", calls, np.array(labels))


def _echo(flip_every: int = 0):
    """A run whose arg-max is the label in input_ids[:, 0], wrong on every flip_every-th row."""
    seen = [0]

    def run(call):
        rows = []
        for label in call["input_ids"][:, 0]:
            seen[0] += 1
            wrong = flip_every and seen[0] % flip_every == 0
            rows.append(np.eye(2, dtype=np.float32)[1 - label if wrong else label])
        return {"logits": np.stack(rows)}

    return run


@pytest.mark.parametrize("batch", [1, 3])
def test_perfect_run_scores_one_and_padding_rows_are_not_scored(batch):
    data = _sequence_set([0, 1, 1, 0, 1, 0, 0], batch)
    result = evaluate(_echo(), data)
    assert result.score == 1.0
    assert result.predictions.tolist() == [0, 1, 1, 0, 1, 0, 0]  # filler rows dropped


def test_wrong_predictions_lower_accuracy_and_agreement():
    data = _sequence_set([0, 1] * 10, batch=1)
    right = evaluate(_echo(), data)
    wrong = evaluate(_echo(flip_every=4), data)  # 5 of 20 flipped
    assert wrong.score == pytest.approx(0.75)
    assert agreement(right, wrong) == pytest.approx(0.75)
    assert agreement(right, right) == 1.0


def test_token_agreement_counts_labelled_positions_only():
    labels = np.full((2, SEQ), IGNORE_INDEX)
    labels[:, 1:3] = 0  # two scored words per sentence
    calls = [
        {k: np.zeros((1, SEQ), np.int32) for k in ("input_ids", "attention_mask", "token_type_ids")}
    ] * 2
    data = EvalSet("ner/dev", Task.TOKEN_CLASSIFICATION, "entity F1", calls, labels, {0: "O"})
    a = evaluate(lambda call: {"logits": np.zeros((1, SEQ, 3), np.float32)}, data)

    def off_label(call):
        logits = np.zeros((1, SEQ, 3), np.float32)
        logits[0, 0, 2] = logits[0, 5:, 1] = 1.0  # differs only where nothing is scored
        return {"logits": logits}

    b = evaluate(off_label, data)
    assert agreement(a, b) == 1.0
    assert not np.array_equal(a.predictions, b.predictions)


def test_results_of_different_sets_are_not_compared():
    a = evaluate(_echo(), _sequence_set([0, 1, 0], 1))
    b = evaluate(_echo(), _sequence_set([0, 1], 1))
    with pytest.raises(ValueError, match="different sets"):
        agreement(a, b)


def test_unknown_data_set_and_split_are_clear_errors():
    tokenizer = ConvBertTokenizerFast.from_pretrained(None)
    with pytest.raises(ConfigError, match="movie_reviews"):
        eval_set("imdb", tokenizer, SEQ)
    with pytest.raises(ConfigError, match="split"):
        eval_set("movie_reviews", tokenizer, SEQ, split="train")


@pytest.mark.slow
def test_eager_runner_on_real_reviews_matches_a_direct_forward():
    """The eager runner and a plain batched forward predict the same on 64 real test texts."""
    torch.manual_seed(0)
    model = ConvBertForSequenceClassification(tiny_config(vocab_size=30522)).eval()
    tokenizer = ConvBertTokenizerFast.from_pretrained(None)
    data = eval_set("movie_reviews", tokenizer, 32, limit=64, batch=4)
    assert data.name == "movie_reviews/test" and len(data) == 64 and len(data.calls) == 16
    result = evaluate(eager_runner(model), data)
    ids = torch.from_numpy(np.concatenate([c["input_ids"] for c in data.calls])).long()
    mask = torch.from_numpy(np.concatenate([c["attention_mask"] for c in data.calls])).long()
    with torch.no_grad():
        direct = model(ids, mask, torch.zeros_like(ids))["logits"].argmax(-1).numpy()
    assert np.array_equal(result.predictions, direct)
    assert result.score == pytest.approx(float((direct == data.labels).mean()))


@pytest.mark.slow
def test_question_answering_scores_answer_strings_from_window_logits():
    """Logits on the gold answer give EM near 1; agreement compares the answer strings."""
    tokenizer = ConvBertTokenizerFast.from_pretrained(None)
    data = eval_set("squad", tokenizer, 128, limit=40)
    assert data.name == "squad/dev" and len(data) == 40 and len(data.calls) >= 40
    gold = data.qa.answer_positions  # (windows, 2), NO_ANSWER where the window lacks it
    window = iter(range(len(data.calls)))

    def oracle(call):
        start, end = np.zeros((1, 128), np.float32), np.zeros((1, 128), np.float32)
        first, last = gold[next(window)]
        if first >= 0:
            start[0, first] = end[0, last] = 10.0
        return {"start_logits": start, "end_logits": end}

    right = evaluate(oracle, data)
    assert right.score >= 0.95 and right.extra["f1"] >= right.score
    blind = evaluate(
        lambda call: {
            "start_logits": np.zeros((1, 128), np.float32),
            "end_logits": np.zeros((1, 128), np.float32),
        },
        data,
    )
    assert blind.score < 0.2
    assert agreement(right, right) == 1.0 and agreement(right, blind) < 0.2
