"""Keras stack -> .tflite (LiteRT): fp32, fp16, dynamic-range int8, full int8, int16x8.

The converter sees a functional twin of the model with static int32 inputs
(``build_for_export``); quantized recipes get a representative dataset of real,
tokenized batches. ``tflite_ops.op_report`` reads the op list and tensor types back from
the flatbuffer, so tests and the manifest speak of what is really in the file.
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from convbert_edge.errors import ExportError
from convbert_edge.exporters.progress import substep
from convbert_edge.quantize.recipes import Recipe
from convbert_edge.tasks import INPUT_NAMES

from .tflite_calibrated import calibrate, quantize_for
from .tflite_ops import float_compute_ops, op_report


@dataclass
class TFLiteResult:
    model: bytes
    ops: Counter = field(default_factory=Counter)
    float_ops: list[dict[str, str]] = field(default_factory=list)


def convert(
    export_model,
    recipe: Recipe,
    calibration: Iterable[dict[str, np.ndarray]] = (),
) -> TFLiteResult:
    """Convert a functional Keras model with static inputs according to ``recipe``."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(export_model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    q = recipe.quantization
    if q == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif q == "dynamic-int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif q in ("int8", "int16x8"):
        batches = list(calibration)
        if not batches:
            raise ExportError(f"{q} needs calibration batches; none were given")

        def representative():
            # By name: a list would be matched to the converted model's input tensors by
            # position, and their order (attention_mask first) is not the Keras one.
            for batch in batches:
                yield {n: np.asarray(batch[n], np.int32) for n in INPUT_NAMES}

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        if q == "int8":
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if recipe.io_dtype == "int8":
                converter.inference_output_type = tf.int8
        else:
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
            ]
    elif q != "fp32":
        raise ExportError(f"TFLite export does not know quantization {q!r}")
    if recipe.float_layers or recipe.int8_scope != "all":
        # Mixed precision or linear-only int8: calibrate, then quantize selectively.
        if q != "int8":
            raise ExportError(f"float layers and int8 scope are int8 options, not {q}'s")
        with substep("SavedModel trace and calibration"):
            calibrated = calibrate(export_model, batches)
        with substep("quantization"):
            model = quantize_for(calibrated, recipe)
    else:
        try:
            # Keras' SavedModel export prints every captured tensor spec; keep the CLI's
            # progress readable.
            with contextlib.redirect_stdout(io.StringIO()), substep("conversion"):
                model = converter.convert()
        except Exception as err:  # the converter raises ConverterError and plain exceptions
            raise ExportError(
                f"TFLite conversion ({q}) failed: {str(err).splitlines()[0]}"
            ) from None
    ops = op_report(model)
    flex = [op for op in ops if op.startswith("CUSTOM:")]
    if flex:
        raise ExportError(
            f"the converted model needs Flex/custom ops {flex}; it would not run on LiteRT builtins"
        )
    result = TFLiteResult(model=model, ops=ops)
    if q == "int8":
        result.float_ops = float_compute_ops(model)
        if recipe.int8_scope == "linear":
            result.float_ops.append(
                {
                    "op": "layer norm, softmax, GELU, adds, attention matmuls",
                    "reason": "int8 scope 'linear': only linear layers, the depthwise "
                    "convolution and the embedding table are int8",
                }
            )
        if recipe.float_layers:
            result.float_ops.insert(
                0,
                {
                    "op": f"layers {', '.join(recipe.float_layers)}",
                    "reason": "mixed precision: kept float on purpose (measured sensitivity)",
                },
            )
    return result
