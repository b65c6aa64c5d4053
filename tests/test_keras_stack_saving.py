"""get_config/from_config mirror the constructor, and a .keras file round-trips exactly."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras_helpers import ALL_TASKS, TINY_CONFIGS, keras_outputs, make_checkpoint, make_inputs

from convbert_edge.errors import ConfigError
from convbert_edge.keras_stack import TFConvBertForMaskedLM, TFConvBertModel, model_class_for
from convbert_edge.tasks import Task

CHOICES = 2


def _inputs(model, task):
    choices = CHOICES if task is Task.MULTIPLE_CHOICE else None
    return make_inputs(model.config, 2, 16, seed=8, choices=choices)


@pytest.mark.parametrize("task", ALL_TASKS, ids=[t.value for t in ALL_TASKS])
def test_keras_file_round_trip_is_exact(tmp_path, task):
    config = TINY_CONFIGS["groups2"].replace(embedding_size=16, summary_type="mean")
    model = model_class_for(task).from_pretrained(make_checkpoint(config, task, tmp_path / "ckpt"))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)

    assert type(loaded) is type(model)
    assert loaded.config == model.config
    assert [w.path for w in loaded.weights] == [w.path for w in model.weights]
    for ours, theirs in zip(model.weights, loaded.weights, strict=True):
        assert np.array_equal(np.asarray(ours), np.asarray(theirs)), ours.path
    inputs = _inputs(model, task)
    before, after = keras_outputs(model, inputs), keras_outputs(loaded, inputs)
    assert sorted(before) == sorted(after)
    for name in before:
        assert np.array_equal(before[name], after[name]), name


@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
def test_masked_lm_round_trip_keeps_tying(tmp_path, tie):
    config = TINY_CONFIGS["tiny"].replace(extra={"tie_word_embeddings": tie})
    model = TFConvBertForMaskedLM(config)
    path = tmp_path / "mlm.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert hasattr(loaded.lm_head, "lm_kernel") is (not tie)
    assert len(loaded.weights) == len(model.weights)
    inputs = _inputs(model, Task.MASKED_LM)
    before, after = keras_outputs(model, inputs), keras_outputs(loaded, inputs)
    assert np.array_equal(before["logits"], after["logits"])


def test_get_config_mirrors_the_constructor():
    config = TINY_CONFIGS["head_ratio4"].replace(id2label={0: "x", 1: "y", 2: "z", 3: "w"})
    model = TFConvBertModel(config, name="encoder_under_test")
    cfg = model.get_config()
    assert set(cfg) == {"config", "name"}
    assert cfg["config"] == config.to_dict()  # the config.json dict, JSON-serializable
    clone = TFConvBertModel.from_config(cfg)
    assert clone.config == config and clone.name == "encoder_under_test"
    assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in model.weights]
    assert TFConvBertModel(config.to_dict()).config == config  # a dict is accepted too


def test_bad_config_is_a_config_error():
    with pytest.raises(ConfigError):
        TFConvBertModel("conv-bert-small")
    with pytest.raises(ConfigError, match="summary_use_proj"):
        model_class_for(Task.MULTIPLE_CHOICE)(
            TINY_CONFIGS["tiny"].replace(extra={"summary_use_proj": True})
        )
