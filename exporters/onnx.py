"""PyTorch stack -> ONNX, and ONNX Runtime's own int8 (dynamic and static): the peer path.

This is the route a user takes today without convbert_edge (as optimum does it); the
report measures our artifacts against it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from convbert_edge.errors import ExportError
from convbert_edge.quantize.recipes import Recipe
from convbert_edge.tasks import INPUT_NAMES
from convbert_edge.torch_stack.export_utils import eval_mode


def export_onnx(
    model: torch.nn.Module,
    example: tuple,
    output_names: tuple[str, ...],
    recipe: Recipe,
    calibration: Iterable[dict[str, np.ndarray]] = (),
) -> bytes:
    """fp32 ONNX (static shapes), then quantized by ONNX Runtime when the recipe asks."""
    if recipe.quantization not in ("fp32", "dynamic-int8", "int8"):
        raise ExportError(
            f"ONNX export supports fp32, dynamic-int8 and int8, not {recipe.quantization}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        fp32_path = Path(tmp) / "model.onnx"
        try:
            with eval_mode(model):  # the caller's model keeps its mode
                torch.onnx.export(
                    model,
                    tuple(example),
                    str(fp32_path),
                    input_names=list(INPUT_NAMES),
                    output_names=list(output_names),
                    dynamo=True,
                    external_data=False,
                    optimize=True,
                    verbose=False,
                )
        except Exception as err:  # the exporter raises many types
            raise ExportError(f"ONNX export failed: {str(err).splitlines()[0]}") from None
        if recipe.quantization == "fp32":
            return fp32_path.read_bytes()
        out_path = Path(tmp) / "model.int8.onnx"
        _quantize(fp32_path, out_path, recipe, list(calibration))
        return out_path.read_bytes()


def _quantize(src: Path, dst: Path, recipe: Recipe, calibration: list) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = dst.with_name("model.pre.onnx")
    quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    per_channel = recipe.granularity == "per-channel"
    if recipe.activations == "dynamic":
        # optimum's op set for transformers: MatMul and friends, int8 weights; 7-bit ones
        # (reduce_range) where the recipe says so (runtime.cpu.int8_pairs_saturate).
        quantize_dynamic(
            str(pre),
            str(dst),
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            reduce_range=recipe.weight_bits == 7,
        )
        return
    if not calibration:
        raise ExportError("static ONNX int8 needs calibration batches; none were given")

    feeds = [{k: np.asarray(batch[k], np.int32) for k in INPUT_NAMES} for batch in calibration]
    quantize_static_qdq(pre, dst, feeds, per_channel)


def quantize_static_qdq(
    src: Path, dst: Path, feeds: list[dict[str, np.ndarray]], per_channel: bool = True
) -> None:
    """Static int8 quantization, QDQ format, int8 weights and activations, calibrated on
    ``feeds`` (input name -> array): the ONNX int8 our artifacts and the GEMM probe share."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(feeds)

        def get_next(self):
            return next(self._it, None)

    quantize_static(
        str(src),
        str(dst),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=per_channel,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
    )
