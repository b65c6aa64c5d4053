"""Hugging Face checkpoint -> Keras model: one declarative name map and a strict copy.

Each rule reads ``HF name template -> Keras attribute path, layout``. "{}" is the encoder
layer index. The Keras path is a chain of attributes from the model (integers index
lists). The layout says how the PyTorch tensor is rearranged into the Keras variable:

- identity: same array (embeddings, LayerNorm, biases, grouped kernels [g, in/g, out/g]);
- linear: torch Linear [out, in] -> Dense kernel [in, out];
- depthwise: Conv1d depthwise [c, 1, k] -> DepthwiseConv1D kernel [k, c, 1];
- pointwise: Conv1d 1x1 [out, in, 1] -> Dense kernel [in, out];
- conv_bias: [out, 1] -> [out];
- tied: the MLM output projection that reuses the word embeddings (nothing to copy).

Two rule layouts depend on the config: "ffn" is grouped (identity) when num_groups > 1
and linear otherwise; "lm_kernel" is tied unless config.json unties the embeddings.

``convert_weights`` checks the checkpoint against ``checkpoint.expected_tensors`` (every
tensor present, none left over, every shape right), then copies each tensor into exactly
one Keras variable and fails if any Keras variable was left unassigned. ``model_tensors``
and ``save_pretrained`` run the same map backwards, so transformers reads what Keras wrote.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from convbert_edge.checkpoint import (
    BASE_PREFIX,
    expected_tensors,
    load_checkpoint,
    plan_load,
    save_tensors,
    ties_word_embeddings,
)
from convbert_edge.config import ConvBertConfig
from convbert_edge.errors import CheckpointError
from convbert_edge.tasks import HF_ARCHITECTURES, Task

# layout name -> (torch layout to Keras layout, Keras layout back to torch layout)
Rearrange = Callable[[np.ndarray], np.ndarray]
LAYOUTS: dict[str, tuple[Rearrange, Rearrange]] = {
    "identity": (lambda t: t, lambda k: k),
    "linear": (lambda t: t.T, lambda k: k.T),
    "depthwise": (lambda t: np.transpose(t, (2, 0, 1)), lambda k: np.transpose(k, (1, 2, 0))),
    "pointwise": (lambda t: t[:, :, 0].T, lambda k: k.T[:, :, None]),
    "conv_bias": (lambda t: t[:, 0], lambda k: k[:, None]),
}
TIED = "tied"

_SELF = "attention.self."
_KSELF = "attention.self_attention."
_SEP = _SELF + "key_conv_attn_layer."
_KSEP = _KSELF + "key_conv_attn_layer."

# The backbone, relative to ``model.convbert``; HF names as ConvBertModel writes them.
BACKBONE_RULES: tuple[tuple[str, str, str], ...] = (
    ("embeddings.word_embeddings.weight", "embeddings.word_embeddings.embeddings", "identity"),
    (
        "embeddings.position_embeddings.weight",
        "embeddings.position_embeddings.embeddings",
        "identity",
    ),
    (
        "embeddings.token_type_embeddings.weight",
        "embeddings.token_type_embeddings.embeddings",
        "identity",
    ),
    ("embeddings.LayerNorm.weight", "embeddings.layer_norm.gamma", "identity"),
    ("embeddings.LayerNorm.bias", "embeddings.layer_norm.beta", "identity"),
    ("embeddings_project.weight", "embeddings_project.kernel", "linear"),
    ("embeddings_project.bias", "embeddings_project.bias", "identity"),
)
LAYER_RULES: tuple[tuple[str, str, str], ...] = (
    (_SELF + "query.weight", _KSELF + "query.kernel", "linear"),
    (_SELF + "query.bias", _KSELF + "query.bias", "identity"),
    (_SELF + "key.weight", _KSELF + "key.kernel", "linear"),
    (_SELF + "key.bias", _KSELF + "key.bias", "identity"),
    (_SELF + "value.weight", _KSELF + "value.kernel", "linear"),
    (_SELF + "value.bias", _KSELF + "value.bias", "identity"),
    (_SEP + "bias", _KSEP + "bias", "conv_bias"),
    (_SEP + "depthwise.weight", _KSEP + "depthwise.kernel", "depthwise"),
    (_SEP + "pointwise.weight", _KSEP + "pointwise.kernel", "pointwise"),
    (_SELF + "conv_kernel_layer.weight", _KSELF + "conv_kernel_layer.kernel", "linear"),
    (_SELF + "conv_kernel_layer.bias", _KSELF + "conv_kernel_layer.bias", "identity"),
    (_SELF + "conv_out_layer.weight", _KSELF + "conv_out_layer.kernel", "linear"),
    (_SELF + "conv_out_layer.bias", _KSELF + "conv_out_layer.bias", "identity"),
    ("attention.output.dense.weight", "attention.dense.kernel", "linear"),
    ("attention.output.dense.bias", "attention.dense.bias", "identity"),
    ("attention.output.LayerNorm.weight", "attention.layer_norm.gamma", "identity"),
    ("attention.output.LayerNorm.bias", "attention.layer_norm.beta", "identity"),
    ("intermediate.dense.weight", "intermediate.kernel", "ffn"),
    ("intermediate.dense.bias", "intermediate.bias", "identity"),
    ("output.dense.weight", "output_dense.kernel", "ffn"),
    ("output.dense.bias", "output_dense.bias", "identity"),
    ("output.LayerNorm.weight", "output_layer_norm.gamma", "identity"),
    ("output.LayerNorm.bias", "output_layer_norm.beta", "identity"),
)
# Head tensors, relative to the model itself.
HEAD_RULES: dict[Task, tuple[tuple[str, str, str], ...]] = {
    Task.BASE: (),
    Task.MASKED_LM: (
        ("generator_predictions.dense.weight", "lm_head.dense.kernel", "linear"),
        ("generator_predictions.dense.bias", "lm_head.dense.bias", "identity"),
        ("generator_predictions.LayerNorm.weight", "lm_head.layer_norm.gamma", "identity"),
        ("generator_predictions.LayerNorm.bias", "lm_head.layer_norm.beta", "identity"),
        ("generator_lm_head.weight", "lm_head.lm_kernel", "lm_kernel"),
        ("generator_lm_head.bias", "lm_head.lm_bias", "identity"),
    ),
    Task.SEQUENCE_CLASSIFICATION: (
        ("classifier.dense.weight", "classifier.dense.kernel", "linear"),
        ("classifier.dense.bias", "classifier.dense.bias", "identity"),
        ("classifier.out_proj.weight", "classifier.out_proj.kernel", "linear"),
        ("classifier.out_proj.bias", "classifier.out_proj.bias", "identity"),
    ),
    Task.MULTIPLE_CHOICE: (
        ("classifier.weight", "classifier.kernel", "linear"),
        ("classifier.bias", "classifier.bias", "identity"),
    ),
    Task.TOKEN_CLASSIFICATION: (
        ("classifier.weight", "classifier.kernel", "linear"),
        ("classifier.bias", "classifier.bias", "identity"),
    ),
    Task.QUESTION_ANSWERING: (
        ("qa_outputs.weight", "qa_outputs.kernel", "linear"),
        ("qa_outputs.bias", "qa_outputs.bias", "identity"),
    ),
}
_LAYER_PREFIX = "encoder.layer.{}."


def name_map(config: ConvBertConfig, task: Task) -> dict[str, tuple[str, str]]:
    """HF tensor name (as ``expected_tensors(config, task)`` spells it) -> (Keras path, layout)."""
    task = Task.parse(task)
    # Config-dependent layouts: grouped FFN kernels keep the reference's 3-D layout.
    resolve = {
        "ffn": "identity" if config.num_groups > 1 else "linear",
        "lm_kernel": TIED if ties_word_embeddings(config) else "linear",
    }
    hf_prefix = "" if task is Task.BASE else BASE_PREFIX
    rules: list[tuple[str, str, str]] = []
    for hf, keras_path, layout in BACKBONE_RULES:
        if hf.startswith("embeddings_project.") and config.embedding_size == config.hidden_size:
            continue
        rules.append((hf_prefix + hf, "convbert." + keras_path, layout))
    for i in range(config.num_hidden_layers):
        for hf, keras_path, layout in LAYER_RULES:
            rules.append(
                (
                    hf_prefix + _LAYER_PREFIX.format(i) + hf,
                    f"convbert.encoder_layers.{i}." + keras_path,
                    layout,
                )
            )
    rules.extend(HEAD_RULES[task])
    return {hf: (keras_path, resolve.get(layout, layout)) for hf, keras_path, layout in rules}


def _resolve(model, path: str):
    obj = model
    for part in path.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


def convert_weights(
    model, tensors: dict[str, np.ndarray], source: str = "tensors", *, new_head: bool = False
) -> None:
    """Copy a checkpoint's tensors (HF names and PyTorch layouts) into ``model`` in place.

    Raises CheckpointError naming every tensor that is missing, unused or mis-shaped,
    and every Keras weight the checkpoint did not fill. With ``new_head`` only the
    backbone is loaded and the head keeps its fresh initialisation (for fine-tuning a
    checkpoint that has no head for this task, such as the public pretrained ones).
    """
    config, task = model.config, model.task
    load = plan_load(
        tensors, config, task, source, new_head=new_head, model_name=type(model).__name__
    )
    tensors, expected = load.tensors, load.expected
    plan = name_map(config, task)
    declared = set(expected_tensors(config, task))
    if set(plan) != declared:
        raise CheckpointError(
            f"internal: the Keras name map and expected_tensors disagree for {task.value}: "
            f"unmapped {sorted(declared - set(plan))[:5]}, extra {sorted(set(plan) - declared)[:5]}"
        )
    assigned: dict[int, str] = {}
    for hf_name in expected:
        keras_path, layout = plan[hf_name]
        if layout == TIED:
            continue
        variable = _resolve(model, keras_path)
        value = LAYOUTS[layout][0](tensors[hf_name])
        if tuple(variable.shape) != value.shape:
            raise CheckpointError(
                f"{source}: tensor {hf_name} {tensors[hf_name].shape} becomes {value.shape} "
                f"({layout}) but Keras weight {variable.path} is {tuple(variable.shape)}"
            )
        if id(variable) in assigned:
            raise CheckpointError(
                f"internal: Keras weight {variable.path} is assigned from both "
                f"{assigned[id(variable)]} and {hf_name}"
            )
        variable.assign(value.astype(np.float32))
        assigned[id(variable)] = hf_name
    fresh = {id(_resolve(model, plan[k][0])) for k in load.fresh if plan[k][1] != TIED}
    unfilled = [w.path for w in model.weights if id(w) not in assigned and id(w) not in fresh]
    if unfilled:
        raise CheckpointError(
            f"{source}: no checkpoint tensor fills Keras weights {', '.join(unfilled[:10])}"
        )


def model_tensors(model) -> dict[str, np.ndarray]:
    """The model's weights under transformers' names and PyTorch layouts (tied ones once)."""
    out = {}
    for hf_name, (keras_path, layout) in name_map(model.config, model.task).items():
        if layout != TIED:
            out[hf_name] = LAYOUTS[layout][1](np.asarray(_resolve(model, keras_path)))
    return out


def load_pretrained(
    model_class, name_or_dir: str | os.PathLike, *, new_head: bool = False, **config_changes
):
    """``model_class`` built from a checkpoint's config.json and filled with its weights."""
    checkpoint = load_checkpoint(name_or_dir)
    config = checkpoint.config.replace(**config_changes) if config_changes else checkpoint.config
    model = model_class(config)
    convert_weights(model, checkpoint.tensors, checkpoint.source, new_head=new_head)
    return model


def save_pretrained(model, directory: str | os.PathLike) -> Path:
    """Write config.json and model.safetensors that transformers' class for the task reads."""
    directory = Path(directory)
    config = model.config.replace(
        extra={**model.config.extra, "architectures": [HF_ARCHITECTURES[model.task]]}
    )
    config.save_pretrained(directory)
    save_tensors(model_tensors(model), directory)
    return directory
