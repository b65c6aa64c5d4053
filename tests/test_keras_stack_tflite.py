"""Every Keras head converts with TFLiteConverter.from_keras_model to an fp32 .tflite that
ai_edge_litert runs to the Keras outputs (<= 1e-4), with builtin ops only (no Flex, no custom).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras_helpers import (
    ALL_TASKS,
    TINY_CONFIGS,
    keras_outputs,
    make_checkpoint,
    make_inputs,
    max_abs_diff,
    public_shape,
)

from convbert_edge.exporters.tflite_utils import keras_to_tflite, run_tflite, tflite_ops
from convbert_edge.keras_stack import TFConvBertModel, model_class_for
from convbert_edge.tasks import OUTPUT_NAMES, Task

TOL = 1e-4
# The whole op vocabulary of a converted ConvBERT: a new op (a gather for the unfold, a
# Flex op, an erf instead of GELU) fails the test and has to be looked at.
ALLOWED_OPS = {
    "ADD",
    "BATCH_MATMUL",
    "CAST",
    "CONCATENATION",
    "DEPTHWISE_CONV_2D",
    "FULLY_CONNECTED",
    "GATHER",
    "GELU",
    "LESS",
    "MEAN",
    "MUL",
    "NEG",
    "PAD",
    "RESHAPE",
    "RSQRT",
    "SELECT",
    "SELECT_V2",
    "SOFTMAX",
    "SQUARED_DIFFERENCE",
    "STRIDED_SLICE",
    "SUB",
    "TRANSPOSE",
    "REDUCE_MAX",
    "REDUCE_MIN",  # a mask sized by each row's score range (int8-friendly)
}
CONFIG = "groups4_emb24"  # grouped FFN and embeddings_project: every layer kind at once
BATCH, SEQ_LEN, CHOICES = 3, 16, 2


def _export(model, task: Task, batch: int, seq_len: int):
    choices = CHOICES if task is Task.MULTIPLE_CHOICE else None
    return model.build_for_export(batch, seq_len, num_choices=choices), choices


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """task -> (keras model, .tflite bytes, inputs), from a transformers checkpoint."""
    root = tmp_path_factory.mktemp("keras_tflite")
    config = TINY_CONFIGS[CONFIG]
    out = {}
    for task in ALL_TASKS:
        directory = make_checkpoint(config, task, root / task.value, seed=4)
        model = model_class_for(task).from_pretrained(directory)
        exportable, choices = _export(model, task, BATCH, SEQ_LEN)
        inputs = make_inputs(model.config, BATCH, SEQ_LEN, seed=5, choices=choices)
        out[task] = (model, keras_to_tflite(exportable), inputs)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("task", ALL_TASKS, ids=[t.value for t in ALL_TASKS])
def test_tflite_matches_keras(converted, task):
    model, flatbuffer, inputs = converted[task]
    lite = run_tflite(flatbuffer, inputs)
    assert sorted(lite) == sorted(OUTPUT_NAMES[task])  # transformers' names in the signature
    diffs = max_abs_diff(lite, keras_outputs(model, inputs))  # names, then shapes, then values
    assert max(diffs.values()) <= TOL, diffs


@pytest.mark.slow
@pytest.mark.parametrize("task", ALL_TASKS, ids=[t.value for t in ALL_TASKS])
def test_op_list_is_builtin_only(converted, task):
    ops = tflite_ops(converted[task][1])
    assert not [op for op in ops if op.startswith("CUSTOM") or "FLEX" in op.upper()], ops
    assert set(ops) <= ALLOWED_OPS, sorted(set(ops) - ALLOWED_OPS)
    assert "GELU" in ops  # exact gelu became the builtin, not an erf polynomial
    assert "GATHER_ND" not in ops  # the unfold is slices, not an im2col gather


def test_keras_gelu_is_torchs_erf_gelu():
    import torch

    x = np.linspace(-8, 8, 2001, dtype=np.float32)
    ours = np.asarray(keras.activations.gelu(x, approximate=False))
    ref = torch.nn.functional.gelu(torch.from_numpy(x)).numpy()
    assert np.max(np.abs(ours - ref)) <= 1e-6


def test_dynamic_shapes_are_refused_with_advice():
    model = TFConvBertModel(TINY_CONFIGS["tiny"])
    inputs = [keras.Input(shape=(None,), dtype="int32", name=n) for n in ("input_ids",)]
    dynamic = keras.Model(inputs, model({"input_ids": inputs[0]}))
    with pytest.raises(ValueError, match="build_for_export"):
        keras_to_tflite(dynamic)


def test_multiple_choice_export_needs_num_choices():
    from convbert_edge.errors import ConfigError

    model = model_class_for(Task.MULTIPLE_CHOICE)(TINY_CONFIGS["tiny"])
    with pytest.raises(ConfigError, match="num_choices"):
        model.build_for_export(1, 16)


@pytest.mark.slow
@pytest.mark.parametrize("task", [Task.BASE, Task.MASKED_LM], ids=["base", "masked-lm"])
def test_public_small_shape_at_seq_128(tmp_path, task):
    model = model_class_for(task).from_pretrained(
        make_checkpoint(public_shape("conv-bert-small"), task, tmp_path, seed=6)
    )
    flatbuffer = keras_to_tflite(model.build_for_export(1, 128))
    inputs = make_inputs(model.config, 1, 128, seed=7)
    diffs = max_abs_diff(run_tflite(flatbuffer, inputs), keras_outputs(model, inputs))
    assert max(diffs.values()) <= TOL, diffs
    assert set(tflite_ops(flatbuffer)) <= ALLOWED_OPS
