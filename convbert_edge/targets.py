"""Export targets and quantization modes: the two keys of every artifact and tolerance."""

from __future__ import annotations

from enum import Enum


class ParsableEnum(str, Enum):
    """A string enum whose ``parse`` names the valid values when given another one."""

    @classmethod
    def parse(cls, value):
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(m.value for m in cls)
            raise ValueError(
                f"unknown {cls.__name__.lower()} {value!r}; choose one of {valid}"
            ) from None


class Target(ParsableEnum):
    TFLITE = "tflite"
    EXECUTORCH = "executorch"
    ONNX = "onnx"


class Quantization(ParsableEnum):
    FP32 = "fp32"
    FP16 = "fp16"
    DYNAMIC_INT8 = "dynamic-int8"
    INT8 = "int8"
    INT16X8 = "int16x8"


MODEL_FILES: dict[Target, str] = {
    Target.TFLITE: "model.tflite",
    Target.EXECUTORCH: "model.pte",
    Target.ONNX: "model.onnx",
}
