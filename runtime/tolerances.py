"""A Tolerance: the bounds one output of an artifact must meet against the fp32 reference.

The bounds each (target, quantization) gets, and how they were measured, are in the export
spec (convbert_edge.exporters.spec); an artifact carries its own in golden.npz, so the
runtime checks what the exporter promised without knowing the table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

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
