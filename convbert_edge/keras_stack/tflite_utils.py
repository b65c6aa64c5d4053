"""Keras model -> fp32 .tflite bytes, the op list of a .tflite, and running one with LiteRT.

Small on purpose: the exporters package builds the full artifact (manifest, int8,
golden data) on top of these three functions.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def keras_to_tflite(model) -> bytes:
    """Convert a functional Keras model with static input shapes to fp32 .tflite bytes.

    Only TFLite builtin ops are allowed: a graph that would need the Flex delegate
    (SELECT_TF_OPS) fails to convert instead of producing a model phones cannot run.
    Use ``ConvBertKerasModel.build_for_export(batch, seq_len)`` to get such a model.
    """
    import tensorflow as tf

    for tensor in model.inputs:
        if any(dim is None for dim in tensor.shape):
            raise ValueError(
                f"input {tensor.name} has shape {tuple(tensor.shape)}: TFLite export needs a "
                "static [batch, seq_len]; build the model with build_for_export(batch, seq_len)"
            )
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def _read(model: bytes | str | os.PathLike) -> bytes:
    return model if isinstance(model, bytes) else Path(model).read_bytes()


def tflite_ops(model: bytes | str | os.PathLike) -> list[str]:
    """The operator codes a .tflite declares, read from its flatbuffer, e.g. ["ADD", "GELU"].

    Builtin ops by their schema name; custom ops (Flex ops included) as "CUSTOM:<code>".
    """
    from ai_edge_litert import schema_py_generated as schema

    codes = vars(schema.BuiltinOperator).items()
    builtin_names = {value: name for name, value in codes if not name.startswith("_")}
    flat = schema.Model.GetRootAsModel(_read(model), 0)
    names = []
    for i in range(flat.OperatorCodesLength()):
        code = flat.OperatorCodes(i)
        # Codes above 127 live in BuiltinCode; DeprecatedBuiltinCode caps at 127.
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == schema.BuiltinOperator.CUSTOM:
            names.append("CUSTOM:" + (code.CustomCode() or b"").decode())
        else:
            names.append(builtin_names.get(builtin, f"UNKNOWN_{builtin}"))
    return sorted(set(names))


def run_tflite(
    model: bytes | str | os.PathLike, inputs: dict[str, np.ndarray], num_threads: int = 2
) -> dict[str, np.ndarray]:
    """Run the default signature of a .tflite with ai_edge_litert; outputs by signature name."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=_read(model), num_threads=num_threads)
    runner = interpreter.get_signature_runner()
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
