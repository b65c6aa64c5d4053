"""The HF -> Keras name map is strict: every tensor used once, every Keras weight filled."""

from __future__ import annotations

import numpy as np
import pytest
from keras_helpers import TINY_CONFIGS, hf_class, make_checkpoint

from convbert_edge.checkpoint import expected_tensors, load_checkpoint
from convbert_edge.errors import CheckpointError
from convbert_edge.keras_stack import (
    MODEL_CLASSES,
    TFConvBertForSequenceClassification,
    TFConvBertModel,
    convert_weights,
    name_map,
)
from convbert_edge.tasks import Task

CONFIG = TINY_CONFIGS["groups2"].replace(embedding_size=16)


@pytest.mark.parametrize("task", list(Task), ids=[t.value for t in Task])
@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
def test_name_map_covers_every_tensor_and_every_weight(task, tie):
    config = CONFIG.replace(extra={"tie_word_embeddings": tie})
    plan = name_map(config, task)
    assert set(plan) == set(expected_tensors(config, task))
    model = MODEL_CLASSES[task](config)
    paths = [path for path, layout in plan.values() if layout != "tied"]
    assert len(paths) == len(set(paths)) == len(model.weights)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return load_checkpoint(
        make_checkpoint(CONFIG, Task.SEQUENCE_CLASSIFICATION, tmp_path_factory.mktemp("ckpt"))
    )


def _fresh():
    return TFConvBertForSequenceClassification(CONFIG)


def test_missing_tensor_is_named(checkpoint):
    tensors = dict(checkpoint.tensors)
    del tensors["convbert.encoder.layer.1.attention.self.conv_out_layer.bias"]
    pattern = r"missing tensors: .*layer\.1\.attention\.self\.conv_out_layer\.bias"
    with pytest.raises(CheckpointError, match=pattern):
        convert_weights(_fresh(), tensors)


def test_unused_tensor_is_named(checkpoint):
    tensors = {**checkpoint.tensors, "classifier.extra.weight": np.zeros((2, 2), np.float32)}
    with pytest.raises(CheckpointError, match=r"unexpected tensors: classifier\.extra\.weight"):
        convert_weights(_fresh(), tensors)


def test_misshaped_tensor_is_named(checkpoint):
    name = "convbert.encoder.layer.0.intermediate.dense.weight"
    tensors = {**checkpoint.tensors, name: checkpoint.tensors[name][:, :, :-1]}
    pattern = r"mis-shaped tensors: convbert\.encoder\.layer\.0\.intermediate"
    with pytest.raises(CheckpointError, match=pattern):
        convert_weights(_fresh(), tensors)


def test_every_keras_weight_receives_its_tensor(checkpoint):
    model = _fresh()
    convert_weights(model, checkpoint.tensors)
    plan = name_map(CONFIG, Task.SEQUENCE_CLASSIFICATION)
    q = plan["convbert.encoder.layer.1.attention.self.query.weight"][0]
    kernel = model.convbert.encoder_layers[1].attention.self_attention.query.kernel
    assert q.endswith("query.kernel")
    torch_weight = checkpoint.tensors["convbert.encoder.layer.1.attention.self.query.weight"]
    np.testing.assert_array_equal(np.asarray(kernel), torch_weight.T)


def test_base_checkpoint_loads_into_a_head_model_and_back(tmp_path):
    # Head checkpoints carry "convbert."; a bare ConvBertModel's do not. Either loads into
    # either, as in transformers (the head tensors then are, strictly, missing).
    base_dir = make_checkpoint(CONFIG, Task.BASE, tmp_path / "base")
    TFConvBertModel.from_pretrained(
        make_checkpoint(CONFIG, Task.QUESTION_ANSWERING, tmp_path / "qa")
    )
    with pytest.raises(CheckpointError, match="missing tensors: classifier"):
        TFConvBertForSequenceClassification.from_pretrained(base_dir)


def test_pytorch_bin_checkpoint_loads(tmp_path):
    import torch
    from transformers.models.convbert.configuration_convbert import ConvBertConfig as HFConfig

    torch.manual_seed(0)
    hf = hf_class(Task.BASE)(HFConfig(**CONFIG.to_dict())).eval()
    hf.save_pretrained(tmp_path, safe_serialization=False)
    assert (tmp_path / "pytorch_model.bin").is_file()
    ids = np.arange(1, 17, dtype=np.int32)[None]
    ours = TFConvBertModel.from_pretrained(tmp_path)({"input_ids": ids})["last_hidden_state"]
    with torch.no_grad():
        ref = hf(input_ids=torch.from_numpy(ids.astype(np.int64))).last_hidden_state.numpy()
    assert np.max(np.abs(np.asarray(ours) - ref)) <= 1e-4


def test_new_head_loads_the_backbone_only(tmp_path):
    base_dir = make_checkpoint(CONFIG, Task.BASE, tmp_path / "base")
    with pytest.raises(CheckpointError, match="new_head=True"):
        TFConvBertForSequenceClassification.from_pretrained(base_dir)
    labels = {i: f"L{i}" for i in range(5)}
    model = TFConvBertForSequenceClassification.from_pretrained(
        base_dir, new_head=True, id2label=labels
    )
    assert model.config.num_labels == 5
    base = TFConvBertModel.from_pretrained(base_dir)
    for ours, theirs in zip(model.convbert.weights, base.convbert.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    ids = np.arange(1, 17, dtype=np.int32)[None]
    assert tuple(model({"input_ids": ids})["logits"].shape) == (1, 5)


@pytest.mark.parametrize(
    "task,extra",
    [(Task.SEQUENCE_CLASSIFICATION, {}), (Task.MASKED_LM, {"tie_word_embeddings": False})],
    ids=["sequence-classification", "masked-lm-untied"],
)
def test_save_pretrained_round_trips_through_transformers(tmp_path, task, extra):
    import torch

    config = CONFIG.replace(extra=extra)
    source = load_checkpoint(make_checkpoint(config, task, tmp_path / "in"))
    model = MODEL_CLASSES[task](source.config)
    convert_weights(model, source.tensors)
    model.save_pretrained(tmp_path / "out")

    written = load_checkpoint(tmp_path / "out")
    assert written.config == source.config.replace(
        extra={**source.config.extra, "architectures": written.config.extra["architectures"]}
    )
    assert sorted(written.tensors) == sorted(source.tensors)
    for name, value in source.tensors.items():  # the layouts invert exactly
        np.testing.assert_array_equal(written.tensors[name], value, err_msg=name)

    hf = hf_class(task).from_pretrained(tmp_path / "out").eval()
    ids = np.arange(1, 17, dtype=np.int32)[None]
    with torch.no_grad():
        ref = hf(input_ids=torch.from_numpy(ids.astype(np.int64))).logits.numpy()
    ours = np.asarray(model({"input_ids": ids})["logits"])
    assert np.max(np.abs(ours - ref)) <= 1e-4
