"""How far an artifact's outputs are from the fp32 reference: one function, plain numpy."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class OutputMetrics:
    """Distances between one reference output and the artifact's.

    Args:
        name: the output's name.
        max_abs / mean_abs: largest and mean absolute difference.
        cosine: cosine similarity of the flattened outputs (1.0 is identical direction).
        sqnr_db: signal-to-quantization-noise ratio, 10*log10(|ref|^2 / |ref - out|^2);
            inf when identical.
        argmax_agreement: share of positions whose argmax over the last axis agrees.
    """

    name: str
    max_abs: float
    mean_abs: float
    cosine: float
    sqnr_db: float
    argmax_agreement: float

    def as_dict(self) -> dict:
        return asdict(self)


def compare_output(name: str, reference: np.ndarray, actual: np.ndarray) -> OutputMetrics:
    """Metrics of ``actual`` against ``reference``; both must have the same shape."""
    if reference.shape != actual.shape:
        raise ValueError(
            f"{name}: shape {actual.shape} differs from the reference {reference.shape}"
        )
    ref = np.asarray(reference, dtype=np.float64)
    out = np.asarray(actual, dtype=np.float64)
    if not np.all(np.isfinite(out)):
        return OutputMetrics(name, float("inf"), float("inf"), float("nan"), float("-inf"), 0.0)
    diff = out - ref
    noise = float(np.sum(diff * diff))
    signal = float(np.sum(ref * ref))
    norms = float(np.linalg.norm(ref) * np.linalg.norm(out))
    if noise == 0.0:
        sqnr = float("inf")
    elif signal == 0.0:
        sqnr = float("-inf")
    else:
        sqnr = 10.0 * np.log10(signal / noise)
    cosine = float(np.dot(ref.ravel(), out.ravel()) / norms) if norms > 0 else float(noise == 0.0)
    agreement = (
        float(np.mean(np.argmax(ref, axis=-1) == np.argmax(out, axis=-1))) if ref.size else 1.0
    )
    return OutputMetrics(
        name=name,
        max_abs=float(np.max(np.abs(diff))) if diff.size else 0.0,
        mean_abs=float(np.mean(np.abs(diff))) if diff.size else 0.0,
        cosine=cosine,
        sqnr_db=float(sqnr),
        argmax_agreement=agreement,
    )
