"""Check an artifact against its golden bundle: output names, then shapes, then values.

Run here (``verify_artifact(dir)``) or on outputs produced elsewhere, e.g. a phone
(``verify_artifact(dir, outputs_file=...)``): the comparison is the same code.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from convbert_edge.errors import ArtifactError

from .crash_guard import Child
from .golden import GoldenBundle
from .manifest import GOLDEN_NAME, Manifest
from .metrics import OutputMetrics, compare_output
from .outputs import read_outputs_file
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
        measured = {m.name for m in self.metrics}
        for name, why in self.failures.items():  # names or shapes wrong: nothing to measure
            if why and name not in measured:
                rows.append(f"{name:<16} {'-':>10} {'-':>10} {'-':>10} {'-':>8} {'-':>7}  ✗ "
                            + "; ".join(why))  # fmt: skip
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
    """Run the artifact, in this process, on every call of its golden inputs; outputs
    stacked like the bundle. (verify_artifact runs this in a child process.)"""
    session = load(directory, threads=threads, isolate=False)
    golden = GoldenBundle.load(session.manifest.check_golden_file(directory))
    golden.check_against(session.manifest, Path(directory) / GOLDEN_NAME)
    per_call = [
        session.run({k: v[i] for k, v in golden.inputs.items()}) for i in range(golden.calls)
    ]
    return {name: np.stack([o[name] for o in per_call]) for name in per_call[0]}


def verify_artifact(
    directory: str | Path,
    outputs_file: str | Path | None = None,
    threads: int = 2,
    isolate: bool = True,
    child: Child | None = None,
) -> VerifyResult:
    """Compare the artifact's outputs on its golden inputs with the fp32 reference.

    The model runs in a child process (``isolate``; runtime/crash_guard.py), so a model
    file that crashes its runtime is reported as broken instead of ending this process:
    ``child`` if given (one started ahead, its runtime already imported), else a new one.
    Raises ArtifactError when the artifact itself is broken (missing or corrupt files,
    sha256 mismatch, a golden bundle that does not fit the model or cannot judge it).
    """
    if threads < 1:
        raise ArtifactError(f"threads must be at least 1, got {threads}")
    directory = Path(directory)
    manifest = Manifest.read(directory)
    golden = GoldenBundle.load(manifest.check_golden_file(directory))
    golden.check_against(manifest, directory / GOLDEN_NAME)
    if outputs_file is None:
        manifest.check_model_file(directory)
        if isolate:
            with tempfile.TemporaryDirectory(prefix="convbert_edge_verify_") as tmp:
                with child or Child() as runner:
                    runner.run("golden", directory, Path(tmp) / "outputs.npz", threads)
                actual = read_outputs_file(Path(tmp) / "outputs.npz")
        else:
            actual = run_golden(directory, threads=threads)
    else:
        manifest.check_model_file(directory)
        actual = read_outputs_file(outputs_file)
    metrics, failures = compare_outputs(golden.outputs, actual, golden.tolerance)
    return VerifyResult(str(directory), golden.tolerance, metrics, failures)
