"""Loading and saving Hugging Face checkpoints with the PyTorch stack: strict, and named errors."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file, save_file
from torch_helpers import (
    make_inputs,
    max_abs_diffs,
    reference_classes,
    reference_model,
    reference_outputs,
    tiny_config,
)

from convbert_edge.checkpoint import SAFETENSORS_NAME
from convbert_edge.errors import CheckpointError
from convbert_edge.tasks import Task
from convbert_edge.torch_stack import (
    MODEL_CLASSES,
    ConvBertForMaskedLM,
    ConvBertForSequenceClassification,
    ConvBertModel,
    model_class,
)


@pytest.fixture
def base_dir(tmp_path):
    """A ConvBertModel checkpoint written by transformers."""
    reference_model(tiny_config(), Task.BASE).save_pretrained(tmp_path / "base")
    return tmp_path / "base"


def rewrite_weights(directory, change):
    path = directory / SAFETENSORS_NAME
    tensors = load_file(str(path))
    change(tensors)
    save_file(tensors, str(path), metadata={"format": "pt"})


@pytest.mark.parametrize("task", list(Task), ids=lambda t: t.value)
def test_save_pretrained_is_read_by_transformers(task, tmp_path):
    ours = MODEL_CLASSES[task](tiny_config()).eval()
    ours.save_pretrained(tmp_path)
    reference, info = reference_classes()[task].from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    assert info["mismatched_keys"] == []
    inputs = make_inputs(ours.example_inputs(3, 16)[0].shape, 128)
    with torch.no_grad():
        diffs = max_abs_diffs(ours(*inputs), reference_outputs(reference.eval(), task, inputs))
    assert max(diffs.values()) <= 1e-5, diffs


@pytest.mark.parametrize("task", list(Task), ids=lambda t: t.value)
def test_save_then_load_is_the_identity(task, tmp_path):
    ours = MODEL_CLASSES[task](tiny_config())
    ours.save_pretrained(tmp_path)
    again = MODEL_CLASSES[task].from_pretrained(tmp_path)
    loaded = again.state_dict()
    for name, value in ours.state_dict().items():
        assert torch.equal(value, loaded[name]), name
    assert json.loads((tmp_path / "config.json").read_text())["architectures"] == [
        type(ours).__name__
    ]


def test_float16_save_halves_the_file_and_loads_the_rounded_weights(tmp_path):
    ours = ConvBertForSequenceClassification(tiny_config())
    ours.save_pretrained(tmp_path / "fp32")
    ours.save_pretrained(tmp_path / "fp16", dtype="float16")
    stored = load_file(str(tmp_path / "fp16" / SAFETENSORS_NAME))
    assert {v.dtype for v in stored.values()} == {np.dtype(np.float16)}
    sizes = [(tmp_path / d / SAFETENSORS_NAME).stat().st_size for d in ("fp32", "fp16")]
    assert sizes[1] < 0.55 * sizes[0], sizes
    loaded = ConvBertForSequenceClassification.from_pretrained(tmp_path / "fp16").state_dict()
    for name, value in ours.state_dict().items():
        assert loaded[name].dtype == torch.float32, name
        assert torch.equal(loaded[name], value.half().float()), name
    config = json.loads((tmp_path / "fp16" / "config.json").read_text())
    assert config["torch_dtype"] == "float16"
    reference = reference_classes()[Task.SEQUENCE_CLASSIFICATION].from_pretrained(tmp_path / "fp16")
    assert reference.dtype == torch.float32  # transformers widens it too, as we do
    with pytest.raises(ValueError, match="float16"):
        ours.save_pretrained(tmp_path / "bf16", dtype="bfloat16")


def test_untied_masked_lm_keeps_its_own_output_matrix(tmp_path):
    config = tiny_config(extra={"tie_word_embeddings": False})
    ours = ConvBertForMaskedLM(config)
    assert ours.generator_lm_head.weight is not ours.convbert.embeddings.word_embeddings.weight
    ours.save_pretrained(tmp_path)
    assert "generator_lm_head.weight" in load_file(str(tmp_path / SAFETENSORS_NAME))
    again = ConvBertForMaskedLM.from_pretrained(tmp_path)
    assert torch.equal(again.generator_lm_head.weight, ours.generator_lm_head.weight)


def test_tied_masked_lm_shares_the_word_embeddings(tmp_path):
    reference_model(tiny_config(), Task.MASKED_LM).save_pretrained(tmp_path)
    ours = ConvBertForMaskedLM.from_pretrained(tmp_path)
    assert ours.generator_lm_head.weight is ours.convbert.embeddings.word_embeddings.weight


def test_pytorch_model_bin_loads(base_dir):
    tensors = load_file(str(base_dir / SAFETENSORS_NAME))
    (base_dir / SAFETENSORS_NAME).unlink()
    torch.save({k: torch.from_numpy(v) for k, v in tensors.items()}, base_dir / "pytorch_model.bin")
    model = ConvBertModel.from_pretrained(base_dir)
    for name, value in tensors.items():
        assert np.array_equal(model.state_dict()[name].numpy(), value), name


def test_missing_tensor_is_named(base_dir):
    rewrite_weights(base_dir, lambda t: t.pop("encoder.layer.1.attention.self.conv_out_layer.bias"))
    with pytest.raises(
        CheckpointError,
        match=r"missing tensors: encoder\.layer\.1\.attention"
        r"\.self\.conv_out_layer\.bias",
    ):
        ConvBertModel.from_pretrained(base_dir)


def test_unexpected_tensor_is_named(base_dir):
    def add(tensors):
        tensors["encoder.layer.0.attention.self.extra.weight"] = np.zeros((2, 2), np.float32)

    rewrite_weights(base_dir, add)
    with pytest.raises(
        CheckpointError,
        match=r"unexpected tensors: encoder\.layer\.0\.attention"
        r"\.self\.extra\.weight",
    ):
        ConvBertModel.from_pretrained(base_dir)


def test_misshaped_tensor_is_named_with_both_shapes(base_dir):
    def reshape(tensors):
        tensors["encoder.layer.0.intermediate.dense.weight"] = np.zeros((2, 16, 64), np.float32)

    rewrite_weights(base_dir, reshape)
    with pytest.raises(
        CheckpointError,
        match=r"encoder\.layer\.0\.intermediate\.dense\.weight: "
        r"checkpoint \(2, 16, 64\), model \(2, 32, 64\)",
    ):
        ConvBertModel.from_pretrained(base_dir)


def test_truncated_safetensors_names_the_file(base_dir):
    path = base_dir / SAFETENSORS_NAME
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors is not a readable safetensors"):
        ConvBertModel.from_pretrained(base_dir)


class NotWeights:
    """Any object a weights-only unpickler must refuse."""

    def __reduce__(self):
        return (print, ("this would run on load",))


def test_pickle_that_is_not_plain_weights_names_the_file(base_dir):
    (base_dir / SAFETENSORS_NAME).unlink()
    with open(base_dir / "pytorch_model.bin", "wb") as f:
        torch.save({"encoder.layer.0.output.dense.bias": NotWeights()}, f, pickle_module=pickle)
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin is not plain weights"):
        ConvBertModel.from_pretrained(base_dir)


def test_base_checkpoint_in_a_head_model_asks_for_new_head(base_dir):
    with pytest.raises(
        CheckpointError,
        match=r"missing tensors: classifier\.dense\.weight.*"
        r"new_head=True",
    ):
        ConvBertForSequenceClassification.from_pretrained(base_dir)


def test_base_checkpoint_in_a_tied_masked_lm_asks_for_new_head(base_dir):
    with pytest.raises(CheckpointError, match=r"generator_predictions\.dense\.weight.*new_head"):
        ConvBertForMaskedLM.from_pretrained(base_dir)
    model = ConvBertForMaskedLM.from_pretrained(base_dir, new_head=True)
    assert model.generator_lm_head.weight is model.convbert.embeddings.word_embeddings.weight


def test_new_head_loads_the_base_and_initialises_the_head(base_dir):
    labels = {0: "neg", 1: "neutral", 2: "pos"}
    model = ConvBertForSequenceClassification.from_pretrained(
        base_dir, new_head=True, id2label=labels
    )
    assert model.classifier.out_proj.weight.shape == (3, 64)
    assert float(model.classifier.out_proj.weight.detach().std()) == pytest.approx(0.02, rel=0.3)
    assert torch.count_nonzero(model.classifier.out_proj.bias) == 0
    base = load_file(str(base_dir / SAFETENSORS_NAME))
    for name, value in base.items():
        assert np.array_equal(model.state_dict()["convbert." + name].numpy(), value), name


def test_new_head_replaces_a_head_of_another_size(tmp_path):
    reference_model(tiny_config(), Task.SEQUENCE_CLASSIFICATION).save_pretrained(tmp_path)
    labels = {0: "a", 1: "b", 2: "c"}
    with pytest.raises(CheckpointError, match=r"out_proj\.weight: checkpoint \(2, 64\)"):
        ConvBertForSequenceClassification.from_pretrained(tmp_path, id2label=labels)
    model = ConvBertForSequenceClassification.from_pretrained(
        tmp_path, new_head=True, id2label=labels
    )
    assert model.config.num_labels == 3


def test_head_checkpoint_loads_into_the_base_model(tmp_path):
    reference = reference_model(tiny_config(), Task.TOKEN_CLASSIFICATION)
    reference.save_pretrained(tmp_path)
    model = ConvBertModel.from_pretrained(tmp_path)
    inputs = make_inputs((2, 16), 128)
    with torch.no_grad():
        ref = reference.convbert(*inputs).last_hidden_state
    assert torch.allclose(model(*inputs)["last_hidden_state"], ref, atol=1e-5)


def test_not_a_directory_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint directory"):
        ConvBertModel.from_pretrained(tmp_path / "nowhere")


def test_model_class_registry_names_valid_tasks():
    assert model_class("question-answering").task is Task.QUESTION_ANSWERING
    with pytest.raises(ValueError, match="choose one of base, masked-lm"):
        model_class("summarisation")
