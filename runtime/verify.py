"""Check an artifact against its golden bundle: output names, then shapes, then values.

Run here (``verify_artifact(dir)``) or on outputs produced elsewhere, e.g. a phone
(``verify_artifact(dir, outputs_file=...)``): the comparison is the same code.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from convbert_edge.errors import ArtifactError

from .golden import GoldenBundle
from .manifest import GOLDEN_NAME, Manifest
from .metrics import OutputMetrics, compare_output
from .session import load
from .tolerances import Tolerance


@dataclass
class VerifyResult:
    """The verdict on one artifact: metrics and failures per output."""

    directory: str
    tolerance: Tolerance
    metrics: list[OutputMetrics]
    failures: dict[str, list[str]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not any(self.failures.values())

    def table(self) -> str:
        """A fixed-width table with one row per output and a mark for pass or fail."""
        header = (
            f"{'output':<16} {'max_abs':>10} {'mean_abs':>10} {'cosine':>10} "
            f"{'sqnr_dB':>8} {'argmax':>7}  ok"
        )
        rows = [header, "-" * len(header)]
        for m in self.metrics:
            ok = "✓" if not self.failures.get(m.name) else "✗ " + "; ".join(self.failures[m.name])
            sqnr = "inf" if math.isinf(m.sqnr_db) and m.sqnr_db > 0 else f"{m.sqnr_db:.1f}"
            rows.append(
                f"{m.name:<16} {m.max_abs:>10.3g} {m.mean_abs:>10.3g} {m.cosine:>10.6f} "
                f"{sqnr:>8} {m.argmax_agreement:>7.3f}  {ok}"
            )
        return "\n".join(rows)


def compare_outputs(
    reference: dict[str, np.ndarray], actual: dict[str, np.ndarray], tolerance: Tolerance
) -> tuple[list[OutputMetrics], dict[str, list[str]]]:
    """Names first, then shapes, then values; every failure is reported, none stops the rest."""
    failures: dict[str, list[str]] = {}
    metrics = []
    for name in reference:
        if name not in actual:
            failures[name] = [f"output {name!r} missing (got {sorted(actual)})"]
            continue
        if reference[name].shape != actual[name].shape:
            failures[name] = [f"shape {actual[name].shape} != reference {reference[name].shape}"]
            continue
        m = compare_output(name, reference[name], actual[name])
        metrics.append(m)
        failures[name] = tolerance.failures(m)
    for name in actual:
        if name not in reference:
            failures[name] = [f"unexpected output {name!r}"]
    return metrics, failures


def run_golden(directory: str | Path, threads: int = 2) -> dict[str, np.ndarray]:
    """Run the artifact on every call of its golden inputs; outputs stacked like the bundle."""
    session = load(directory, threads=threads)
    golden = GoldenBundle.load(Path(directory) / GOLDEN_NAME)
    golden.check_against(session.manifest, Path(directory) / GOLDEN_NAME)
    per_call = [
        session.run({k: v[i] for k, v in golden.inputs.items()}) for i in range(golden.calls)
    ]
    return {name: np.stack([o[name] for o in per_call]) for name in per_call[0]}


def read_outputs_file(path: str | Path) -> dict[str, np.ndarray]:
    """Outputs produced elsewhere: an .npz with ``output/<name>`` arrays (calls, ...)."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"no outputs file at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith("output/")}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise ArtifactError(f"{path} is not a readable outputs file ({err})") from None


def verify_artifact(
    directory: str | Path, outputs_file: str | Path | None = None, threads: int = 2
) -> VerifyResult:
    """Compare the artifact's outputs on its golden inputs with the fp32 reference.

    Raises ArtifactError when the artifact itself is broken (missing or corrupt files,
    sha256 mismatch, a golden bundle that does not fit the model).
    """
    directory = Path(directory)
    manifest = Manifest.read(directory)
    golden = GoldenBundle.load(directory / GOLDEN_NAME)
    golden.check_against(manifest, directory / GOLDEN_NAME)
    if outputs_file is None:
        actual = run_golden(directory, threads=threads)
    else:
        manifest.check_model_file(directory)
        actual = read_outputs_file(outputs_file)
    metrics, failures = compare_outputs(golden.outputs, actual, golden.tolerance)
    return VerifyResult(str(directory), golden.tolerance, metrics, failures)
