"""Quantization recipes as data: what is quantized, how, and what stays float.

A recipe is frozen, validates itself, and is written into every artifact's manifest,
so an artifact says exactly how it was made. Named factories give the recipes the
export CLI offers; ``recipe_for(quantization)`` is the lookup the CLI uses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from convbert_edge.targets import Quantization

WEIGHT_BITS = (8, 16, 32)
ACTIVATION_MODES = ("float", "dynamic", "static")
GRANULARITIES = ("per-tensor", "per-channel")
IO_TYPES = ("float32", "int8")
INT8_SCOPES = ("all", "linear")
OBSERVERS = ("minmax", "histogram")


@dataclass(frozen=True)
class Recipe:
    """How one artifact is quantized.

    Args:
        quantization: the artifact key this recipe implements.
        weight_dtype: "float32", "float16" or "int8".
        activations: "float" (weights only), "dynamic" (ranges measured per call) or
            "static" (ranges fixed by calibration), for the quantized ops.
        activation_bits: 8, or 16 for int16x8.
        weight_bits: 8, or 7 where the runtime's int8 kernels would overflow 8-bit
            weights (ONNX Runtime's dynamic int8 on x86 without VNNI:
            convbert_edge.runtime.cpu).
        granularity: weight scales "per-channel" (one per output channel) or "per-tensor".
        symmetric_weights: weights use zero point 0.
        quantized_ops: op kinds the recipe quantizes (the rest stay float and are listed
            in the manifest's float_ops).
        float_layers: name patterns of layers kept in float on purpose (mixed precision).
        io_dtype: dtype of the model's float outputs at the boundary: "float32" or "int8".
        calibration_samples: texts used to fix static ranges (0 when not static).
        int8_scope: for static int8 TFLite, "all" (every op the converter can run in
            int8: the full-integer model) or "linear" (only the linear layers, the
            depthwise convolution and the embedding table; LayerNorm, softmax, GELU, the
            attention matmuls and the adds stay float, as in the ExecuTorch recipe).
            LiteRT's XNNPACK delegate runs the "linear" model in one piece; "all" is
            traced from the Keras stack's integer graph (keras_stack.formulation), which
            XNNPACK runs in 20 pieces: measured 1.2x the linear scope's latency on the
            default model, 98.8% agreement with fp32 against 99.7% (docs/int8_ops.md).
        observer: how static activation ranges are measured: "minmax" (the observed
            extremes; one pass, about 0.06 s a call for conv-bert-small) or "histogram"
            (PyTorch's MSE-optimal clipping; measured 10 s a call here, so 256 texts
            take 40 minutes). LiteRT's converter always uses min/max.
    """

    quantization: str
    weight_dtype: str = "float32"
    activations: str = "float"
    activation_bits: int = 32
    weight_bits: int = 8
    granularity: str = "per-channel"
    symmetric_weights: bool = True
    quantized_ops: tuple[str, ...] = ()
    float_layers: tuple[str, ...] = ()
    io_dtype: str = "float32"
    calibration_samples: int = 0
    int8_scope: str = "all"
    observer: str = "minmax"
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        Quantization.parse(self.quantization)
        if self.weight_dtype not in ("float32", "float16", "int8"):
            raise ValueError(f"weight_dtype {self.weight_dtype!r}: choose float32, float16 or int8")
        if self.weight_bits not in (7, 8):
            raise ValueError(f"weight_bits {self.weight_bits}: choose 8, or 7")
        if self.activations not in ACTIVATION_MODES:
            raise ValueError(f"activations {self.activations!r}: choose one of {ACTIVATION_MODES}")
        if self.granularity not in GRANULARITIES:
            raise ValueError(f"granularity {self.granularity!r}: choose one of {GRANULARITIES}")
        if self.observer not in OBSERVERS:
            raise ValueError(f"observer {self.observer!r}: choose one of {OBSERVERS}")
        if self.int8_scope not in INT8_SCOPES:
            raise ValueError(f"int8_scope {self.int8_scope!r}: choose one of {INT8_SCOPES}")
        if self.io_dtype not in IO_TYPES:
            raise ValueError(f"io_dtype {self.io_dtype!r}: choose one of {IO_TYPES}")
        if self.activations == "static" and self.calibration_samples < 1:
            raise ValueError("a static recipe needs calibration_samples >= 1")
        if self.io_dtype == "int8" and self.activations != "static":
            raise ValueError("int8 model outputs need statically quantized activations")

    @property
    def is_quantized(self) -> bool:
        return self.weight_dtype == "int8"

    def as_dict(self) -> dict:
        return asdict(self)


LINEAR_OPS = ("linear", "matmul", "conv")


def fp32() -> Recipe:
    return Recipe("fp32")


def fp16() -> Recipe:
    return Recipe(
        "fp16", weight_dtype="float16", notes=("weights stored in float16, computed in float32",)
    )


def dynamic_int8() -> Recipe:
    return Recipe(
        "dynamic-int8",
        weight_dtype="int8",
        activations="dynamic",
        activation_bits=8,
        quantized_ops=LINEAR_OPS,
    )


def full_int8(calibration_samples: int = 256, io_dtype: str = "float32") -> Recipe:
    """int8 weights (per channel) and int8 activations with calibrated static ranges."""
    return Recipe(
        "int8",
        weight_dtype="int8",
        activations="static",
        activation_bits=8,
        quantized_ops=LINEAR_OPS,
        io_dtype=io_dtype,
        calibration_samples=calibration_samples,
    )


def int16x8(calibration_samples: int = 256) -> Recipe:
    """int8 weights, int16 activations: slower than int8, much closer to fp32."""
    return Recipe(
        "int16x8",
        weight_dtype="int8",
        activations="static",
        activation_bits=16,
        quantized_ops=LINEAR_OPS,
        calibration_samples=calibration_samples,
    )


RECIPES = {
    Quantization.FP32: fp32,
    Quantization.FP16: fp16,
    Quantization.DYNAMIC_INT8: dynamic_int8,
    Quantization.INT8: full_int8,
    Quantization.INT16X8: int16x8,
}


def recipe_for(quantization: Quantization | str, **overrides) -> Recipe:
    """The named recipe for a quantization mode, with optional field overrides."""
    recipe = RECIPES[Quantization.parse(quantization)]()
    if overrides:
        recipe = Recipe(**{**recipe.as_dict(), **overrides})
    return recipe
