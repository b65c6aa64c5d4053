"""Full-int8 TFLite in two steps: calibrate once, then quantize as often as needed.

The converter's int8 path is calibration (run the representative data through a float
model and record every tensor's range) followed by quantization. Split apart, one
calibration serves any number of quantizations — all-int8, or with some layers kept
float for mixed precision — each taking well under a second. All-int8 from here is the
same model as ``tflite.convert`` with the int8 recipe (the tests compare outputs).

Layer units are named as in quantize.mixed_precision: ``layer.<i>`` and ``head``; they
map to the op output tensor names the converter keeps from the Keras layer names.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from collections.abc import Iterable

import numpy as np

from convbert_edge.errors import ExportError
from convbert_edge.quantize.recipes import Recipe
from convbert_edge.runtime.litert import litert_interpreter
from convbert_edge.tasks import INPUT_NAMES

from .tflite_ops import op_report

# Keras layers of the heads, by the name each head class gives its layers.
HEAD_LAYERS = ("classifier", "qa_outputs", "lm_head")
# int8 scope "linear": the ops that run in int8; LAYOUT_OPS follow their input's type.
LINEAR_SCOPE_OPS = ("FULLY_CONNECTED", "DEPTHWISE_CONV_2D", "CONV_2D", "GATHER")
LAYOUT_OPS = ("RESHAPE", "TRANSPOSE", "STRIDED_SLICE", "CAST", "LESS", "SELECT", "SELECT_V2")


def calibrate(export_model, calibration: Iterable[dict[str, np.ndarray]]) -> bytes:
    """A float model carrying the recorded range of every tensor (not yet quantized)."""
    import tensorflow as tf

    batches = list(calibration)
    if not batches:
        raise ExportError("int8 needs calibration batches; none were given")

    def representative():
        for batch in batches:  # by name, as in tflite.convert
            yield {n: np.asarray(batch[n], np.int32) for n in INPUT_NAMES}

    converter = tf.lite.TFLiteConverter.from_keras_model(export_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.experimental_mlir_quantizer = True
    converter._experimental_calibrate_only = True  # the public API has no calibrate-only switch
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return converter.convert()
    except Exception as err:  # the converter raises ConverterError and plain exceptions
        raise ExportError(f"TFLite calibration failed: {str(err).splitlines()[0]}") from None


def quantize_for(calibrated: bytes, recipe: Recipe) -> bytes:
    """The int8 model ``recipe`` asks for, from a calibrated model: its float layers, its
    int8 scope and its output type. tflite.convert quantizes with this function whenever
    the recipe keeps anything float (for all-int8 the converter's own model has the same
    outputs; the tests compare them), and recipe selection and the QAT check score with
    it (exporters.stacks.KerasStack.simulate), so what is scored is what ships."""
    if recipe.quantization != "int8":
        raise ExportError(f"a calibrated model quantizes to int8, not {recipe.quantization}")
    return quantize_calibrated(calibrated, recipe.float_layers, recipe.int8_scope, recipe.io_dtype)


def quantize_calibrated(
    calibrated: bytes,
    float_layers: tuple[str, ...] = (),
    scope: str = "all",
    io_dtype: str = "float32",
) -> bytes:
    """int8 model from a calibrated one; ops of ``float_layers`` units stay float, and with
    ``scope="linear"`` every op but the linear layers, the depthwise convolution and the
    embedding lookup does too (quantize.recipes.Recipe.int8_scope). ``io_dtype="int8"``
    gives int8 outputs (with their scale), as the converter's inference_output_type."""
    import tensorflow as tf
    from tensorflow.lite.python import convert

    output_types = {"float32": tf.float32, "int8": tf.int8}
    if io_dtype not in output_types:
        raise ExportError(f"unknown output type {io_dtype!r}: {' or '.join(output_types)}")

    deny = float_layer_nodes(calibrated, float_layers) if float_layers else None
    deny_ops = None
    if scope == "linear":
        deny_ops = sorted(set(op_report(calibrated)) - set(LINEAR_SCOPE_OPS) - set(LAYOUT_OPS))
    elif scope != "all":
        raise ExportError(f"unknown int8 scope {scope!r}: all or linear")
    with warnings.catch_warnings():
        # Our inputs are int32 token ids: there are no input statistics to expect.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        return convert.mlir_quantize(
            calibrated, fully_quantize=False, output_data_type=output_types[io_dtype],
            denylisted_nodes=deny, denylisted_ops=deny_ops,
        )  # fmt: skip


def float_layer_nodes(calibrated: bytes, units: tuple[str, ...]) -> list[str]:
    """Names of the op outputs that belong to ``units``; an unknown unit is an error."""
    interpreter = litert_interpreter(calibrated)
    names = [d["name"] for d in interpreter.get_tensor_details()]
    nodes: list[str] = []
    for unit in units:
        pattern = _unit_pattern(unit)
        found = [n for n in names if pattern.search(n)]
        if unit == "head" and found:
            # The head's last op writes the model's output, which carries the signature's
            # name instead of the layer's.
            found += [d["name"] for d in interpreter.get_output_details()]
        if not found:
            raise ExportError(f"float layer {unit!r} matches no op of the model")
        nodes += found
    return sorted(set(nodes))


def _unit_pattern(unit: str) -> re.Pattern:
    # The converter names tensors by Keras layer path; tracing adds "_<n>" to each part:
    # .../convbert_1/layer_3_1/attention_1/...
    kind, _, index = unit.partition(".")
    if kind == "layer" and index.isdigit():
        return re.compile(rf"/layer_{index}(_\d+)?/")
    if unit == "head":
        return re.compile(rf"/({'|'.join(HEAD_LAYERS)})(_\d+)?/")
    raise ExportError(f"unknown layer unit {unit!r}: use layer.<i> or head")
