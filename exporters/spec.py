"""What each target offers, in one declarative table that every other place reads.

    SPEC[Target.TFLITE][Quantization.INT8]  ->  Offer(tolerance, qat, int8_scopes)

The pipeline refuses a (target, quantization) that is not here, takes the verification
tolerance, the QAT defaults and the TFLite int8 scopes from here; the report's variants
of our own artifacts are checked against it when they are defined. Adding a quantization
to a target is one entry here plus its branch in that target's converter
(docs/architecture.md walks through it).

Tolerances (how the numbers were set): ``benchmarks/measure_tolerances.py`` exports every
head of a 2-layer model (random weights, real-text golden inputs) with every recipe; the
bounds sit below the worst measured value with a margin, and docs/tolerances.md records
the measurements. fp32 artifacts differ from eager only by kernel order (fused GEMMs,
other summation order): 1e-4 absolute. Quantized artifacts are judged by direction and
noise (cosine, SQNR), since their absolute error scales with each output's range; argmax
agreement is reported but not bounded, as random-weight models have near-tied logits.

int16x8 TFLite is not offered: TF 2.21's converter cannot calibrate it for a model with
integer inputs (token ids): "Max and min for dynamic tensors should be recorded during
calibration: Failed for tensor serving_default_input_ids:0" (docs/limitations.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from convbert_edge.errors import ExportError
from convbert_edge.runtime.tolerances import Tolerance
from convbert_edge.targets import Quantization, Target


@dataclass(frozen=True)
class QatDefaults:
    """Quantization-aware training's defaults for a target: optimizer steps, texts per
    step, peak learning rate (ExportOptions' qat_* fields when not given)."""

    steps: int
    accumulate: int
    lr: float


@dataclass(frozen=True)
class Offer:
    """One quantization a target offers.

    Args:
        tolerance: what its artifact must meet against the fp32 reference (written into
            every golden bundle).
        qat: offered with --qat too, with these defaults; None: post-training only.
        int8_scopes: TFLite int8's scopes (quantize.recipes.INT8_SCOPES), the default
            first; () where the target has no such choice.
    """

    tolerance: Tolerance
    qat: QatDefaults | None = None
    int8_scopes: tuple[str, ...] = ()


_FP32 = Tolerance(max_abs=1e-4, min_cosine=0.999999)
# Quantized bounds: the worst value measured (docs/tolerances.md) less 6 dB of SQNR,
# i.e. four times the measured noise power, and the cosine that goes with it.
_FP16 = Tolerance(min_cosine=0.99999, min_sqnr_db=55.0)
_DYNAMIC_INT8 = Tolerance(min_cosine=0.999, min_sqnr_db=27.0)
_INT8 = Tolerance(min_cosine=0.97, min_sqnr_db=12.0)

# QAT defaults from runs on the default model (docs/accuracy.md, docs/limitations.md): a
# larger lr (2e-5) moved the weights away from fp32 more than it recovered rounding error.
# ExecuTorch's 300 steps: on the one-delegate formulation, 100 steps barely moved the
# held-out loss and lost one dev snippet to post-training int8 (so --qat fell back); 300
# took the held-out loss from 2.95e-04 to 8.0e-05 and tied it on dev (2026-12-07, one run).
SPEC: dict[Target, dict[Quantization, Offer]] = {
    Target.TFLITE: {
        Quantization.FP32: Offer(_FP32),
        Quantization.FP16: Offer(_FP16),
        Quantization.DYNAMIC_INT8: Offer(_DYNAMIC_INT8),
        # linear first: the fastest int8 on CPU runtimes within the accuracy budget
        Quantization.INT8: Offer(_INT8, QatDefaults(30, 8, 5e-6), ("linear", "all")),
    },
    Target.EXECUTORCH: {
        Quantization.FP32: Offer(_FP32),
        Quantization.INT8: Offer(_INT8, QatDefaults(300, 8, 5e-6)),
        Quantization.DYNAMIC_INT8: Offer(_DYNAMIC_INT8),
    },
    Target.ONNX: {
        Quantization.FP32: Offer(_FP32),
        Quantization.INT8: Offer(_INT8),
        Quantization.DYNAMIC_INT8: Offer(_DYNAMIC_INT8),
    },
}


def offer(target: Target | str, quantization: Quantization | str) -> Offer:
    """The entry for (target, quantization); ExportError listing the valid ones if none."""
    target, quantization = Target.parse(target), Quantization.parse(quantization)
    offers = SPEC[target]
    if quantization not in offers:
        valid = ", ".join(q.value for q in offers)
        raise ExportError(
            f"{target.value} does not offer {quantization.value}; choose one of {valid}"
        )
    return offers[quantization]


def tolerance_for(target: Target | str, quantization: Quantization | str) -> Tolerance:
    return offer(target, quantization).tolerance


def qat_targets() -> tuple[Target, ...]:
    """The targets that offer quantization-aware training for some quantization."""
    return tuple(t for t, offers in SPEC.items() if any(o.qat for o in offers.values()))
