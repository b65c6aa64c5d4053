"""exporters.inputs: where calibration and golden texts come from, and how they are paired."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

import convbert_edge.data as data
from convbert_edge.errors import ExportError
from convbert_edge.exporters.inputs import load_texts, task_batches
from convbert_edge.tasks import Task
from convbert_edge.tokenizer import ConvBertTokenizerFast


@pytest.fixture
def fake_sets(monkeypatch):
    """Registry stand-ins: squad-like pairs with a dev split only, ner-like word lists."""
    qa = [SimpleNamespace(question=f"q{i}?", context=f"context {i}.") for i in range(6)]
    ner = [SimpleNamespace(tokens=("word", str(i))) for i in range(4)]
    for name, splits in (
        ("squad", SimpleNamespace(train=qa, dev=qa[3:])),
        ("wnut16", SimpleNamespace(train=ner, dev=ner)),
    ):
        fake = dataclasses.replace(data.DATASETS[name], load=lambda cache, s=splits: s)
        monkeypatch.setitem(data.DATASETS, name, fake)


def test_question_answering_texts_stay_paired(fake_sets):
    train = load_texts("squad", 4, "train")
    assert train == ["q0?", "context 0.", "q1?", "context 1."]
    held_out = load_texts("squad", 2, "test")  # no test split: dev, disjoint from train here
    assert held_out == ["q3?", "context 3."]
    tokenizer = ConvBertTokenizerFast.from_pretrained(None)
    (call,) = task_batches(tokenizer, held_out, Task.QUESTION_ANSWERING, 1, 16)
    assert call["input_ids"].shape == (1, 16) and call["input_ids"].dtype == np.int32
    question = (call["token_type_ids"][0] == 0) & (call["attention_mask"][0] == 1)
    assert tokenizer.decode(call["input_ids"][0][question], skip_special_tokens=True) == "q3?"


def test_word_lists_become_one_text_each(fake_sets):
    assert load_texts("wnut16", 2, "train") == ["word 0", "word 1"]


def test_file_gives_calibration_from_its_start_and_golden_from_its_end(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("a\n\nb\nc\nd\n", encoding="utf-8")
    assert load_texts(str(path), 2, "train") == ["a", "b"]
    assert load_texts(str(path), 2, "test") == ["c", "d"]
    with pytest.raises(ExportError, match="has 4 texts; 5 are needed"):
        load_texts(str(path), 5, "train")


def test_unknown_source_names_the_data_sets():
    with pytest.raises(ExportError, match="neither a file nor a data set.*movie_reviews"):
        load_texts("no-such-set", 1, "train")
