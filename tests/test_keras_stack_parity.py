"""Keras stack parity: every output of every head against the PyTorch references (transformers
4.57.6's ConvBert* and our convbert_edge.torch_stack), and against transformers' TFConvBert*.

We follow PyTorch. Where transformers' TF reference computes something else, the case is
named in TF_DIFFERS with the reason, and the test asserts that it does differ.
"""

from __future__ import annotations

import numpy as np
import pytest
from keras_helpers import (
    ALL_TASKS,
    HF_CLASS_NAMES,
    TINY_CONFIGS,
    keras_outputs,
    make_checkpoint,
    make_inputs,
    max_abs_diff,
    pt_outputs,
    public_shape,
    run_tf_oracle,
)

from convbert_edge.keras_stack import model_class_for
from convbert_edge.tasks import Task

TOL = 1e-4

# (batch, seq_len) per config in the unit suite; multiple choice uses 2 choices per row.
SHAPES = {name: (3, 16) for name in TINY_CONFIGS}
SHAPES.update({"tiny": (1, 128), "kernel3": (3, 37), "groups2": (3, 64)})
CHOICES = 2

# Where transformers' TF classes are not the PyTorch reference (we follow PyTorch).
# heads_lt_ratio4 (2 heads, head_ratio 4) is not here: both formulas give 1 head of 16.
_HEAD_SIZE = (
    "TF sizes a head hidden_size // num_attention_heads; PyTorch uses "
    "(hidden_size // max(num_attention_heads // head_ratio, 1)) // 2, so TF cannot load the weights"
)
TF_DIFFERS: dict[tuple[str, Task | None], str] = {
    ("head_ratio1", None): _HEAD_SIZE,
    ("head_ratio4", None): _HEAD_SIZE,
    ("heads_lt_ratio", None): _HEAD_SIZE,
    ("gelu_new_untied", Task.MASKED_LM): "TF always ties the MLM output to the word embeddings",
    ("summary_first", Task.MULTIPLE_CHOICE): (
        "TF ignores summary_type unless summary_use_proj is set and pools the last position"
    ),
}


def tf_differs(config_name: str, task: Task) -> str | None:
    return TF_DIFFERS.get((config_name, None)) or TF_DIFFERS.get((config_name, task))


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    """(config name, task) -> checkpoint dir, inputs, transformers PyTorch outputs."""
    root = tmp_path_factory.mktemp("keras_parity")
    out = {}
    for name, config in TINY_CONFIGS.items():
        batch, seq_len = SHAPES[name]
        for task in ALL_TASKS:
            directory = make_checkpoint(config, task, root / f"{name}-{task.value}")
            choices = CHOICES if task is Task.MULTIPLE_CHOICE else None
            inputs = make_inputs(config, batch, seq_len, seed=1, choices=choices)
            np.savez(directory / "inputs.npz", **inputs)
            out[name, task] = (directory, inputs, pt_outputs(directory, task, inputs))
    return out


@pytest.fixture(scope="module")
def tf_oracle(cases, tmp_path_factory):
    """(config name, task) -> transformers TF outputs or its error, from one subprocess."""
    keys = list(cases)
    jobs = [
        {"dir": str(cases[k][0]), "task": k[1].value, "inputs": str(cases[k][0] / "inputs.npz")}
        for k in keys
    ]
    results = run_tf_oracle(jobs, tmp_path_factory.mktemp("tf_oracle"))
    return dict(zip(keys, results, strict=True))


CASE_IDS = [(name, task) for name in TINY_CONFIGS for task in ALL_TASKS]


@pytest.mark.parametrize("name,task", CASE_IDS, ids=[f"{n}-{t.value}" for n, t in CASE_IDS])
def test_matches_transformers_pytorch(cases, name, task):
    directory, inputs, expected = cases[name, task]
    model = model_class_for(task).from_pretrained(directory)
    diffs = max_abs_diff(keras_outputs(model, inputs), expected)
    assert max(diffs.values()) <= TOL, diffs


@pytest.mark.slow
@pytest.mark.parametrize("name,task", CASE_IDS, ids=[f"{n}-{t.value}" for n, t in CASE_IDS])
def test_matches_transformers_tf_where_it_is_the_reference(cases, tf_oracle, name, task):
    directory, inputs, pt = cases[name, task]
    result = tf_oracle[name, task]
    reason = tf_differs(name, task)
    if reason is None:
        assert "outputs" in result, result.get("error")
        keras = keras_outputs(model_class_for(task).from_pretrained(directory), inputs)
        diffs = max_abs_diff(keras, result["outputs"])
        assert max(diffs.values()) <= TOL, diffs
    else:  # the TF reference must really disagree with PyTorch here, or the entry is stale
        if "outputs" in result:
            shapes_match = all(result["outputs"][k].shape == pt[k].shape for k in pt)
            differs = not shapes_match or max(max_abs_diff(result["outputs"], pt).values()) > 1e-3
            assert differs, reason


def _torch_stack_outputs(directory, task: Task, inputs) -> dict[str, np.ndarray]:
    """Our PyTorch stack's outputs; skips the test until convbert_edge.torch_stack has landed."""
    torch_stack = pytest.importorskip("convbert_edge.torch_stack")
    import torch

    if not hasattr(torch_stack, HF_CLASS_NAMES[task]):
        pytest.skip(f"convbert_edge.torch_stack has no {HF_CLASS_NAMES[task]} yet")
    model = getattr(torch_stack, HF_CLASS_NAMES[task]).from_pretrained(directory).eval()
    with torch.no_grad():
        out = model(**{k: torch.from_numpy(v) for k, v in inputs.items()})
    return {k: v.numpy() for k, v in out.items()}


@pytest.mark.slow
def test_torch_stack_matches(cases):
    """Our PyTorch stack, the reference both stacks follow."""
    worst = {}
    for (name, task), (directory, inputs, _) in cases.items():
        ours = _torch_stack_outputs(directory, task, inputs)
        keras = keras_outputs(model_class_for(task).from_pretrained(directory), inputs)
        worst[name, task.value] = max(max_abs_diff(keras, ours).values())
    assert max(worst.values()) <= TOL, {k: v for k, v in worst.items() if v > TOL}


PUBLIC = ("conv-bert-small", "conv-bert-medium-small", "conv-bert-base")
PUBLIC_BATCH, PUBLIC_SEQ_LEN = 3, 64


@pytest.fixture(scope="module")
def public_cases(tmp_path_factory):
    """(preset, task) -> checkpoint dir, Keras outputs, transformers PyTorch outputs, inputs."""
    root = tmp_path_factory.mktemp("keras_public")
    out = {}
    for preset in PUBLIC:
        config = public_shape(preset)
        for task in ALL_TASKS:
            directory = make_checkpoint(config, task, root / f"{preset}-{task.value}", seed=2)
            choices = CHOICES if task is Task.MULTIPLE_CHOICE else None
            inputs = make_inputs(config, PUBLIC_BATCH, PUBLIC_SEQ_LEN, seed=3, choices=choices)
            np.savez(directory / "inputs.npz", **inputs)
            keras = keras_outputs(model_class_for(task).from_pretrained(directory), inputs)
            out[preset, task] = (directory, keras, pt_outputs(directory, task, inputs), inputs)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("preset", PUBLIC)
def test_public_shapes_match_transformers_pytorch(public_cases, preset):
    worst = {
        task.value: max(max_abs_diff(*public_cases[preset, task][1:3]).values())
        for task in ALL_TASKS
    }
    assert max(worst.values()) <= TOL, worst


@pytest.mark.slow
@pytest.mark.parametrize("preset", PUBLIC)
def test_public_shapes_match_torch_stack(public_cases, preset):
    worst = {}
    for task in ALL_TASKS:
        directory, keras, _, inputs = public_cases[preset, task]
        ours = _torch_stack_outputs(directory, task, inputs)
        worst[task.value] = max(max_abs_diff(keras, ours).values())
    assert max(worst.values()) <= TOL, worst


@pytest.mark.slow
def test_public_shapes_match_transformers_tf(public_cases, tmp_path):
    keys = list(public_cases)
    jobs = [
        {
            "dir": str(public_cases[k][0]),
            "task": k[1].value,
            "inputs": str(public_cases[k][0] / "inputs.npz"),
        }
        for k in keys
    ]
    worst = {}
    for (preset, task), result in zip(keys, run_tf_oracle(jobs, tmp_path), strict=True):
        assert "outputs" in result, (preset, task.value, result.get("error"))
        keras = public_cases[preset, task][1]
        worst[preset, task.value] = max(max_abs_diff(keras, result["outputs"]).values())
    assert max(worst.values()) <= TOL, worst


def test_inputs_default_like_transformers_and_are_validated():
    config = TINY_CONFIGS["tiny"]
    model = model_class_for(Task.BASE)(config)
    ids = make_inputs(config, 2, 16, seed=9)["input_ids"]
    explicit = {
        "input_ids": ids,
        "attention_mask": np.ones_like(ids),
        "token_type_ids": np.zeros_like(ids),
    }
    implicit = keras_outputs(model, {"input_ids": ids})["last_hidden_state"]
    np.testing.assert_array_equal(implicit, keras_outputs(model, explicit)["last_hidden_state"])
    with pytest.raises(ValueError, match="position_ids"):
        model({"input_ids": ids, "position_ids": ids})
    with pytest.raises(ValueError, match="unknown task"):
        model_class_for("summarization")
