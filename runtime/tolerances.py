"""Every tolerance an artifact is checked against, in one table keyed by (target, quantization).

How the numbers were set: ``benchmarks/measure_tolerances.py`` exports every head of a
2-layer model (random weights, real-text golden inputs) with every recipe; the bounds
sit below the worst measured value with a margin, and docs/tolerances.md records the
measurements. fp32 artifacts differ from eager only by kernel order (fused GEMMs, other
summation order): 1e-4 absolute. Quantized artifacts are judged by direction and noise
(cosine, SQNR), since their absolute error scales with each output's range; argmax
agreement is reported but not bounded, as random-weight models have near-tied logits.
int16x8 has no entry: the TFLite converter cannot make it for this model
(docs/limitations.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from convbert_edge.targets import Quantization, Target

from .metrics import OutputMetrics


@dataclass(frozen=True)
class Tolerance:
    """Bounds one output must meet; None leaves a metric unchecked."""

    max_abs: float | None = None
    min_cosine: float | None = None
    min_sqnr_db: float | None = None
    min_argmax_agreement: float | None = None

    def failures(self, m: OutputMetrics) -> list[str]:
        """Each bound ``m`` misses, as a sentence with the measured value."""
        out = []
        if self.max_abs is not None and not m.max_abs <= self.max_abs:
            out.append(f"max_abs {m.max_abs:.3g} > {self.max_abs:.3g}")
        if self.min_cosine is not None and not m.cosine >= self.min_cosine:
            out.append(f"cosine {m.cosine:.5f} < {self.min_cosine}")
        if self.min_sqnr_db is not None and not m.sqnr_db >= self.min_sqnr_db:
            out.append(f"sqnr {m.sqnr_db:.1f} dB < {self.min_sqnr_db} dB")
        if self.min_argmax_agreement is not None and not (
            m.argmax_agreement >= self.min_argmax_agreement
        ):
            out.append(f"argmax agreement {m.argmax_agreement:.3f} < {self.min_argmax_agreement}")
        return out

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Tolerance:
        return cls(
            **{
                k: data.get(k)
                for k in ("max_abs", "min_cosine", "min_sqnr_db", "min_argmax_agreement")
            }
        )


_FP32 = Tolerance(max_abs=1e-4, min_cosine=0.999999)
# Quantized bounds: the worst value measured (docs/tolerances.md) less 6 dB of SQNR,
# i.e. four times the measured noise power, and the cosine that goes with it.
_FP16 = Tolerance(min_cosine=0.99999, min_sqnr_db=55.0)
_DYNAMIC_INT8 = Tolerance(min_cosine=0.999, min_sqnr_db=27.0)
_INT8 = Tolerance(min_cosine=0.97, min_sqnr_db=12.0)

TOLERANCES: dict[tuple[Target, Quantization], Tolerance] = {
    (Target.TFLITE, Quantization.FP32): _FP32,
    (Target.EXECUTORCH, Quantization.FP32): _FP32,
    (Target.ONNX, Quantization.FP32): _FP32,
    (Target.TFLITE, Quantization.FP16): _FP16,
    (Target.TFLITE, Quantization.DYNAMIC_INT8): _DYNAMIC_INT8,
    (Target.EXECUTORCH, Quantization.DYNAMIC_INT8): _DYNAMIC_INT8,
    (Target.ONNX, Quantization.DYNAMIC_INT8): _DYNAMIC_INT8,
    (Target.TFLITE, Quantization.INT8): _INT8,
    (Target.EXECUTORCH, Quantization.INT8): _INT8,
    (Target.ONNX, Quantization.INT8): _INT8,
}


def tolerance_for(target: Target | str, quantization: Quantization | str) -> Tolerance:
    key = (Target.parse(target), Quantization.parse(quantization))
    if key not in TOLERANCES:
        valid = ", ".join(f"{t.value}/{q.value}" for t, q in TOLERANCES)
        raise ValueError(f"no tolerance for {key[0].value}/{key[1].value}; known: {valid}")
    return TOLERANCES[key]
