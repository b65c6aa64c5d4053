"""data/registry.py: the one table of data sets, and the stages that read it.

Everything here runs offline: a loader is replaced by a fake in the registry itself, so
the tests show that training, scoring and export take their facts from the entry.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

import convbert_edge.data as data
from convbert_edge.data import DATASETS, DataError, dataset_spec, default_dataset
from convbert_edge.errors import ConfigError
from convbert_edge.evaluation import eval_set
from convbert_edge.exporters.inputs import load_texts
from convbert_edge.tasks import Task
from convbert_edge.training.data import _TRAINING_SPLITS, LabelledTexts, training_data


def test_each_entry_is_filed_under_its_own_name_with_labels_and_a_source():
    for name, spec in DATASETS.items():
        assert spec.name == name
        assert spec.labels and all(isinstance(label, str) for label in spec.labels), name
        assert spec.source.requirement.count("==") == 1, name  # a pinned package


def test_every_task_of_the_registry_can_be_trained():
    assert {spec.task for spec in DATASETS.values()} <= set(_TRAINING_SPLITS)


def test_unknown_names_list_the_valid_ones_everywhere():
    valid = r"valid: \['bbc_news', 'movie_reviews', 'squad', 'wnut16'\]"
    with pytest.raises(DataError, match=f"unknown data set 'imdb'; {valid}"):
        dataset_spec("imdb")
    with pytest.raises(DataError, match=valid):
        training_data("imdb")
    with pytest.raises(ConfigError, match=valid):
        eval_set("imdb", tokenizer=None, seq_len=16)


def test_the_report_scores_each_task_on_at_most_one_default():
    # What report/run.py scored before the registry held it: QA is not scored by default.
    assert default_dataset(Task.SEQUENCE_CLASSIFICATION) == "movie_reviews"
    assert default_dataset("token-classification") == "wnut16"
    assert default_dataset(Task.QUESTION_ANSWERING) is None
    assert default_dataset(Task.MASKED_LM) is None
    defaults = [s.task for s in DATASETS.values() if s.scored_by_default]
    assert len(defaults) == len(set(defaults))


@pytest.fixture
def fake_reviews(monkeypatch):
    """movie_reviews with three made-up splits and other label names."""
    ex = [SimpleNamespace(text=f"text {i}", label=i % 2) for i in range(6)]
    splits = SimpleNamespace(train=ex[:4], dev=ex[4:5], test=ex[5:])
    fake = dataclasses.replace(
        DATASETS["movie_reviews"], load=lambda cache: splits, labels=("bad", "good")
    )
    monkeypatch.setitem(data.DATASETS, "movie_reviews", fake)
    return fake


def test_training_reads_loader_labels_and_source_from_the_entry(fake_reviews):
    got = training_data("movie_reviews")
    assert got.task is Task.SEQUENCE_CLASSIFICATION
    assert got.id2label == {0: "bad", 1: "good"}
    assert got.source.startswith("vaderSentiment==3.3.2 (")
    assert got.train == LabelledTexts(["text 0", "text 1", "text 2", "text 3"], [0, 1, 0, 1])
    assert got.test == LabelledTexts(["text 5"], [1])


def test_export_takes_its_calibration_texts_through_the_entry(fake_reviews, monkeypatch):
    assert load_texts("movie_reviews", 2, "train") == ["text 0", "text 1"]
    twice = dataclasses.replace(fake_reviews, example_texts=lambda e: [e.text, e.text])
    monkeypatch.setitem(data.DATASETS, "movie_reviews", twice)
    assert load_texts("movie_reviews", 2, "train") == ["text 0", "text 0"]
