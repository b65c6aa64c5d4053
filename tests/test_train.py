"""convbert_edge.train: a tiny model learns a toy task, reproducibly, and leaves a card.

The unit tests use an in-memory data set (word cues for two classes) and a 1-layer,
width-32 model: no download, a few seconds in all. The slow test fetches MiniLM.
"""

from __future__ import annotations

import json
import random
import re
import shlex

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from convbert_edge.config import ConvBertConfig
from convbert_edge.errors import ConfigError
from convbert_edge.tasks import Task
from convbert_edge.tokenizer import ConvBertTokenizerFast
from convbert_edge.torch_stack import (
    ConvBertForSequenceClassification,
    ConvBertForTokenClassification,
)
from convbert_edge.train import config_from_args, main
from convbert_edge.training import LabelledTexts, TrainConfig, TrainingData, loop, train
from convbert_edge.training.data import IGNORE_INDEX, LabelledWords, encode, encode_words
from convbert_edge.training.embeddings import (
    init_word_embeddings,
    load_minilm_word_embeddings,
    reduce_embeddings,
)
from convbert_edge.training.loop import linear_schedule
from convbert_edge.training.objectives import bio_spans, entity_f1

TINY = {"hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64, "embedding_size": 16}
GOOD = ["good", "great", "fine", "lovely", "superb", "wonderful"]
BAD = ["bad", "awful", "dull", "poor", "boring", "terrible"]
FILLER = ["the", "film", "was", "a", "plot", "and", "it", "actors"]


def _split(n: int, seed: int) -> LabelledTexts:
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        words = rng.sample(FILLER, 3) + rng.sample(GOOD if label else BAD, 2)
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return LabelledTexts(texts, labels)


TOY = TrainingData(
    "toy",
    Task.SEQUENCE_CLASSIFICATION,
    {0: "negative", 1: "positive"},
    "made up in tests/test_train.py",
    _split(64, 0),
    _split(32, 1),
    _split(32, 2),
)


def _config(out_dir, **changes) -> TrainConfig:
    settings = dict(
        num_layers=1, model_overrides=TINY, seq_len=16, batch_size=8, eval_batch_size=32,
        epochs=8, lr=1e-2, warmup_ratio=0.1, log_every=4, threads=1,
    )  # fmt: skip
    return TrainConfig(changes.pop("dataset", "toy"), out_dir, **{**settings, **changes})


def _weights(directory) -> dict[str, torch.Tensor]:
    return ConvBertForSequenceClassification.from_pretrained(directory).state_dict()


def test_tiny_model_learns_and_leaves_checkpoint_vocab_and_card(tmp_path):
    lines: list[str] = []
    result = train(_config(tmp_path / "run"), TOY, log=lines.append)

    losses = [e.train_loss for e in result.history]
    assert len(losses) == 8 and result.steps == 64  # 64 examples / batch 8, 8 epochs
    assert losses[-1] < 0.2 * losses[0], losses
    assert result.best_dev_score >= 0.9 and result.test_score >= 0.9
    assert any(line.startswith("epoch 1 step 4/64 loss ") and "it/s" in line for line in lines)

    out = tmp_path / "run"
    for name in ("config.json", "model.safetensors", "vocab.txt", "MODEL_CARD.md", "metrics.json"):
        assert (out / name).is_file(), name
    reloaded = ConvBertForSequenceClassification.from_pretrained(out)
    assert reloaded.config.id2label == {0: "negative", 1: "positive"}
    assert reloaded.config.num_hidden_layers == 1 and reloaded.config.hidden_size == 32

    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "toy from made up in tests/test_train.py" in card
    assert "examples used: train 64, dev 32, test 32" in card
    assert f"dev accuracy {result.best_dev_score:.4f}" in card
    assert _config(out).command() in card
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["best_epoch"] == result.best_epoch and len(metrics["history"]) == 8


def test_same_seed_same_weights_other_seed_other_weights(tmp_path):
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        train(_config(tmp_path / name, epochs=1, seed=seed), TOY, log=lambda _: None)
        runs[name] = _weights(tmp_path / name)
    assert all(torch.equal(runs["a"][k], runs["b"][k]) for k in runs["a"])
    assert not torch.equal(
        runs["a"]["classifier.out_proj.weight"], runs["c"]["classifier.out_proj.weight"]
    )


def test_max_steps_stops_early(tmp_path):
    result = train(_config(tmp_path / "r", max_steps=3, log_every=100), TOY, log=lambda _: None)
    assert result.steps == 3 and len(result.history) == 1


def test_schedule_warms_up_then_decays_to_zero():
    f = linear_schedule(warmup_steps=4, total_steps=14)
    assert [round(f(s), 2) for s in range(5)] == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert f(9) == 0.5 and f(14) == 0.0


def test_float16_storage_is_what_the_test_score_measures(tmp_path):
    result = train(_config(tmp_path / "h", epochs=2, save_dtype="float16"), TOY, lambda _: None)
    stored = load_file(str(tmp_path / "h" / "model.safetensors"))
    assert {v.dtype for v in stored.values()} == {np.dtype(np.float16)}
    model = ConvBertForSequenceClassification.from_pretrained(tmp_path / "h")
    split = encode(ConvBertTokenizerFast.from_pretrained(None), TOY.test, 16)
    with torch.no_grad():
        predictions = model(split.input_ids, split.attention_mask, split.token_type_ids)
        predictions = predictions["logits"].argmax(-1)
    assert result.test_score == float((predictions == split.labels).float().mean())
    assert "--save-dtype float16" in (tmp_path / "h" / "MODEL_CARD.md").read_text()


def test_command_parses_back_to_the_same_config(tmp_path):
    config = TrainConfig(
        "movie_reviews", tmp_path / "out dir", num_layers=None, model_overrides=TINY,
        init_embeddings="minilm", lr=1e-4, max_steps=20, seed=3, save_dtype="float16",
    )  # fmt: skip
    argv = shlex.split(config.command())[3:]
    assert argv[:4] == ["--dataset", "movie_reviews", "--out-dir", str(tmp_path / "out dir")]
    assert config_from_args(argv, environ={}) == config


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "0"], "epochs must be at least 1, got 0"),
        (["--lr", "-1"], "lr must be positive"),
        (["--warmup-ratio", "1.5"], r"warmup_ratio must be in \[0, 1\)"),
        (["--model-dir", "/nonexistent"], "no checkpoint at /nonexistent"),
        (["--model-arg", "hidden_size"], "expected KEY=VALUE"),
        (["--model-arg", "hiden_size=32"], "bad --model-arg: .*hiden_size"),
        (["--seq-len", "1024"], "seq_len 1024 exceeds the model's max_position_embeddings 512"),
        (["--init-embeddings", "glove"], "invalid choice: 'glove'"),
        (["--save-dtype", "int8"], "invalid choice: 'int8'"),
    ],
)
def test_bad_flags_exit_with_a_clear_message(tmp_path, capsys, monkeypatch, argv, message):
    # Data loading is replaced so that no flag test downloads anything.
    monkeypatch.setattr(loop, "training_data", lambda name, cache_dir: TOY)
    try:  # argparse refuses a malformed flag with SystemExit; the rest returns the code
        code = main(
            ["--dataset", "movie_reviews", "--out-dir", str(tmp_path), "--threads", "1", *argv]
        )
    except SystemExit as exit_info:
        code = exit_info.code
    assert code == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err


def test_existing_checkpoint_is_not_overwritten_unless_asked(tmp_path):
    train(_config(tmp_path, max_steps=1), TOY, log=lambda _: None)
    with pytest.raises(ConfigError, match="already holds a checkpoint"):
        train(_config(tmp_path, max_steps=1), TOY, log=lambda _: None)
    train(_config(tmp_path, max_steps=1, overwrite=True), TOY, log=lambda _: None)


def test_reduce_embeddings_keeps_the_top_principal_components():
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(8, 8)))  # orthonormal directions
    scales = np.array([8.0, 4.0, 2.0, 1.0, 0.5, 0.25, 0.1, 0.05])
    table = (rng.normal(size=(4000, 8)) * scales) @ basis.T + 3.0  # (v, 8), offset mean
    reduced = reduce_embeddings(table.astype(np.float32), 3)
    assert reduced.shape == (4000, 3) and reduced.dtype == np.float32
    assert np.allclose(reduced.mean(axis=0), 0, atol=1e-3)  # centred
    np.testing.assert_allclose(reduced.std(axis=0), scales[:3], rtol=0.05)  # largest first
    cov = np.cov(reduced.T)
    assert abs(cov[0, 1]) < 0.05 * cov[0, 0]  # uncorrelated components
    # The projection onto the top right-singular vectors of the centred table, up to sign.
    centred = table - table.mean(axis=0)
    top = centred @ np.linalg.svd(centred, full_matrices=False)[2][:3].T  # (v, 3)
    np.testing.assert_allclose(np.abs(reduced), np.abs(top), atol=1e-3)
    # Signs are fixed by the components (largest loading positive), which depend on the
    # covariance only: the negated table, same covariance, projects to exactly -reduced.
    np.testing.assert_allclose(reduce_embeddings(-table.astype(np.float32), 3), -reduced, atol=1e-4)
    np.testing.assert_array_equal(reduced, reduce_embeddings(table.astype(np.float32), 3))
    with pytest.raises(ValueError, match=r"width must be in \[1, 8\]"):
        reduce_embeddings(table, 9)


def test_init_word_embeddings_copies_strictly_and_keeps_padding_zero():
    config = ConvBertConfig.preset("conv-bert-small", num_hidden_layers=1, **TINY, vocab_size=50)
    model = ConvBertForSequenceClassification(config)
    table = np.arange(50 * 16, dtype=np.float32).reshape(50, 16) + 1
    init_word_embeddings(model, table)
    got = model.convbert.embeddings.word_embeddings.weight.detach().numpy()
    np.testing.assert_array_equal(got[1:], table[1:])
    assert not got[0].any()  # pad_token_id 0
    with pytest.raises(ValueError, match=r"table is \(50, 8\), the model needs \(50, 16\)"):
        init_word_embeddings(model, table[:, :8])


@pytest.mark.slow
def test_real_minilm_embeddings_reduce_to_conv_bert_small_width():
    table = load_minilm_word_embeddings()  # the default cache: 83 MB, once per machine
    assert table.shape == (30522, 384) and table.dtype == np.float32
    reduced = reduce_embeddings(table, 128)
    assert reduced.shape == (30522, 128)
    stds = reduced.std(axis=0)
    assert np.all(np.diff(stds) <= 1e-6)  # ordered by explained variance


# ----------------------------------------------------------------- token classification
NER_TAGS = {0: "O", 1: "B-geo-loc", 2: "I-geo-loc", 3: "B-person", 4: "I-person"}
CITIES = [("paris",), ("london",), ("new", "york"), ("rome",), ("san", "francisco")]
PEOPLE = [("john", "smith"), ("mary",), ("anna", "jones"), ("peter",)]


def _ner_split(n: int, seed: int) -> LabelledWords:
    rng = random.Random(seed)
    sentences, labels = [], []
    for _ in range(n):
        words, tags = [], []
        for _ in range(rng.randint(3, 6)):
            kind = rng.random()
            if kind < 0.2 or kind > 0.8:
                name, first = (rng.choice(CITIES), 1) if kind < 0.2 else (rng.choice(PEOPLE), 3)
                words += name
                tags += [first] + [first + 1] * (len(name) - 1)
            else:
                words.append(rng.choice(FILLER))
                tags.append(0)
        sentences.append(tuple(words))
        labels.append(tags)
    return LabelledWords(sentences, labels)


TOY_NER = TrainingData(
    "toy_ner",
    Task.TOKEN_CLASSIFICATION,
    NER_TAGS,
    "made up",
    _ner_split(64, 0),
    _ner_split(32, 1),
    None,
)


def test_bio_spans_follow_conlleval():
    tags = ["B-person", "I-person", "O", "I-geo-loc", "B-geo-loc", "I-person", "B-person"]
    assert bio_spans(tags) == {
        ("person", 0, 1), ("geo-loc", 3, 3), ("geo-loc", 4, 4), ("person", 5, 5), ("person", 6, 6),
    }  # fmt: skip
    assert bio_spans(["O", "O"]) == set()


def test_entity_f1_counts_spans_on_first_pieces_only():
    ignore = IGNORE_INDEX
    labels = torch.tensor([[ignore, 3, 4, ignore, 0, 1, ignore]])  # john smith . paris
    exact = torch.tensor([[0, 3, 4, 1, 0, 1, 0]])  # wrong only where ignored
    assert entity_f1(exact, labels, NER_TAGS) == 1.0
    half = torch.tensor([[0, 3, 0, 0, 0, 1, 0]])  # "john" alone: 1 of 2 found spans right
    assert entity_f1(half, labels, NER_TAGS) == pytest.approx(0.5)
    assert entity_f1(torch.zeros_like(labels), labels, NER_TAGS) == 0.0


def test_encode_words_labels_each_words_first_piece():
    tokenizer = ConvBertTokenizerFast.from_pretrained(None)
    split = LabelledWords([("@paulwalk", "in", "\u2028", "Paris")], [[3, 0, 0, 1]])
    enc = encode_words(tokenizer, split, seq_len=10)
    pieces = tokenizer.convert_ids_to_tokens(enc.input_ids[0].tolist())
    assert pieces == [
        "[CLS]",
        "@",
        "paul",
        "##walk",
        "in",
        "[UNK]",
        "paris",
        "[SEP]",
        "[PAD]",
        "[PAD]",
    ]
    assert (
        enc.labels[0].tolist()
        == [IGNORE_INDEX, 3, IGNORE_INDEX, IGNORE_INDEX, 0, 0, 1] + [IGNORE_INDEX] * 3
    )
    assert enc.attention_mask[0].tolist() == [1] * 8 + [0] * 2
    cut = encode_words(tokenizer, split, seq_len=6)  # room for 4 pieces: "@paulwalk in"
    assert tokenizer.convert_ids_to_tokens(cut.input_ids[0].tolist())[-1] == "[SEP]"
    assert (cut.labels[0] != IGNORE_INDEX).sum() == 2


def test_tiny_token_classifier_learns_toy_entities(tmp_path):
    lines: list[str] = []
    result = train(_config(tmp_path, dataset="toy_ner"), TOY_NER, log=lines.append)
    assert result.metric == "entity F1" and result.test_score is None
    assert result.history[-1].train_loss < 0.3 * result.history[0].train_loss
    assert result.best_dev_score >= 0.8, [e.dev_score for e in result.history]
    assert any("dev entity F1" in line for line in lines)
    reloaded = ConvBertForTokenClassification.from_pretrained(tmp_path)
    assert reloaded.config.id2label == NER_TAGS
    assert "dev entity F1" in (tmp_path / "MODEL_CARD.md").read_text(encoding="utf-8")
