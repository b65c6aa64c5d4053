"""Keras model -> fp32 .tflite bytes, the op list of a .tflite, and running one with LiteRT.

Thin conveniences for Keras-stack users and tests; the conversion and the op reading
are tflite.py's and tflite_ops.py's, which the export pipeline uses too. They live here,
not in keras_stack/, because converting needs the exporters and the recipes: a model
stack below them must not reach up to them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from convbert_edge.quantize.recipes import fp32
from convbert_edge.runtime.litert import litert_runner

from .tflite import convert
from .tflite_ops import op_report


def keras_to_tflite(model) -> bytes:
    """Convert a functional Keras model with static input shapes to fp32 .tflite bytes.

    Only TFLite builtin ops are allowed: a graph that would need the Flex delegate
    (SELECT_TF_OPS) fails to convert instead of producing a model phones cannot run.
    Use ``ConvBertKerasModel.build_for_export(batch, seq_len)`` to get such a model.
    """
    for tensor in model.inputs:
        if any(dim is None for dim in tensor.shape):
            raise ValueError(
                f"input {tensor.name} has shape {tuple(tensor.shape)}: TFLite export needs a "
                "static [batch, seq_len]; build the model with build_for_export(batch, seq_len)"
            )
    return convert(model, fp32()).model


def _read(model: bytes | str | os.PathLike) -> bytes:
    return model if isinstance(model, bytes) else Path(model).read_bytes()


def tflite_ops(model: bytes | str | os.PathLike) -> list[str]:
    """The operator codes a .tflite declares, read from its flatbuffer, e.g. ["ADD", "GELU"].

    Builtin ops by their schema name; custom ops (Flex ops included) as "CUSTOM:<code>".
    """
    return sorted(op_report(_read(model)))


def run_tflite(
    model: bytes | str | os.PathLike, inputs: dict[str, np.ndarray], num_threads: int = 2
) -> dict[str, np.ndarray]:
    """Run the default signature of a .tflite with ai_edge_litert; outputs by signature name."""
    runner = litert_runner(_read(model), num_threads)
    expected = runner.get_input_details()
    unknown = sorted(set(inputs) - set(expected))
    missing = sorted(set(expected) - set(inputs))
    if unknown or missing:
        raise ValueError(
            f"inputs do not fit the model: missing {missing}, unknown {unknown}; "
            f"the model takes {sorted(expected)}"
        )
    feed = {k: np.asarray(v, dtype=expected[k]["dtype"]) for k, v in inputs.items()}
    return {k: np.asarray(v) for k, v in runner(**feed).items()}
