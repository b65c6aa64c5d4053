"""The variant registry: every row of the report, keyed by a short name, and how to build it.

Ours come from ``exporters.pipeline.export``; the peers from ``exporters.peers``
(transformers' model from the same checkpoint); the eager baselines need no build.
A variant that cannot be built here (a mode the pipeline refuses, a missing package)
raises NotAvailable with the reason, and the report shows it as "not available".

    spec = build_variant("tflite-int8", context)      # -> RunnerSpec, reusing a match
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from convbert_edge.errors import ConvBertEdgeError
from convbert_edge.exporters.spec import offer
from convbert_edge.runtime.manifest import Manifest, checkpoint_hashes

from .runners import RunnerSpec

BUILD_KEY_NAME = "report-build.json"


class NotAvailable(Exception):
    """A variant that cannot be built here; str() is the reason shown in the report."""


@dataclass
class BuildContext:
    """Everything a builder needs, the same for every variant of one model.

    Args:
        model: the --model value (None: the embedded default), as the export CLI takes it.
        model_dir: the resolved checkpoint directory.
        model_name: the name exports put in their default directory (the default
            model's name, else the --model directory's or hub id's last part).
        task: the head (a Task value).
        root: where artifact directories go (one subdirectory per variant).
        calibration: calibration texts of our builds (a data set name or a text file;
            None: the exporter's default, movie_reviews).
        calls: lazily made (example call, calibration calls) for the peers.
    """

    model: str | None
    model_dir: Path
    task: str
    seq_len: int
    cache_dir: Path
    root: Path
    model_name: str = ""
    rebuild: bool = False
    calibration: str | None = None
    calibration_samples: int = 256
    log: Callable[[str], None] = print
    calls: Callable[[], tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]]] | None = None
    _fingerprint: str | None = field(default=None, repr=False)

    def fingerprint(self) -> str:
        """sha256 of the checkpoint's config and weights: a changed model rebuilds."""
        if self._fingerprint is None:
            self._fingerprint = ",".join(checkpoint_hashes(self.model_dir).values())
        return self._fingerprint


@dataclass(frozen=True)
class Variant:
    """One row of the report.

    Args:
        label: the name shown in tables and on the plot.
        family: "ours", "peer" (a path a user has today) or "baseline" (eager fp32).
        runtime: "tflite", "executorch", "onnx" or "torch": whose int8 GEMM limit applies.
        precision: fp32, fp16, dynamic-int8, int8 or qat-int8.
        build: makes (or reuses) the variant and says how to open it.
        export: for ours, how the exporter is asked for it (None for peers and baselines).
    """

    label: str
    family: str
    runtime: str
    precision: str
    build: Callable[[BuildContext, str], RunnerSpec]
    export: Ours | None = None

    @property
    def is_int8(self) -> bool:
        return "int8" in self.precision


@cache
def code_fingerprint() -> str:
    """sha256 over the toolkit's own Python sources (the packages that build artifacts):
    a build made by other code is not reused, so a changed exporter cannot leave stale
    artifacts, and figures, in the cache."""
    import convbert_edge
    from convbert_edge import exporters, quantize, runtime

    digest = hashlib.sha256()
    for package in (convbert_edge, exporters, quantize, runtime):
        root = Path(package.__file__).parent
        for path in sorted(root.rglob("*.py")):
            digest.update(f"{package.__name__}/{path.relative_to(root).as_posix()}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _reusable(directory: Path, key: dict) -> bool:
    try:
        Manifest.read(directory).check_model_file(directory)
        return json.loads((directory / BUILD_KEY_NAME).read_text(encoding="utf-8")) == key
    except (ConvBertEdgeError, OSError, ValueError):
        return False


def _cached(make: Callable[[BuildContext, Path], None], settings: dict):
    """Build into root/<name> unless a directory with the same build key is there."""

    def build(ctx: BuildContext, name: str) -> RunnerSpec:
        out = ctx.root / name
        key = {
            "variant": name,
            "checkpoint": ctx.fingerprint(),
            "task": ctx.task,
            "seq_len": ctx.seq_len,
            "calibration_samples": ctx.calibration_samples,
            "code": code_fingerprint(),
            # only when given, so that keys of default builds stay as they were
            **({"calibration": ctx.calibration} if ctx.calibration else {}),
            **settings,
        }
        if not ctx.rebuild and _reusable(out, key):
            ctx.log(f"      reusing {out}")
        else:
            _build_fresh(make, ctx, out)
            (out / BUILD_KEY_NAME).write_text(json.dumps(key, indent=2) + "\n", encoding="utf-8")
        return RunnerSpec("artifact", str(out), ctx.task)

    return build


def _build_fresh(make: Callable[[BuildContext, Path], None], ctx: BuildContext, out: Path) -> None:
    """``make`` into a fresh directory beside ``out``, then put it in ``out``'s place.

    The builders refuse to write into a directory holding files they did not write, and
    a build that fails half-way must not cost the last good one: the old directory is
    replaced only once the new one is complete. It is deleted only if the report made it
    (it holds the report's build key); anything else is left alone and named.
    """
    if out.exists() and not (out / BUILD_KEY_NAME).is_file():
        raise NotAvailable(
            f"{out} is in the report's cache but was not built by the report (no "
            f"{BUILD_KEY_NAME}); nothing was changed: move it out of the cache directory"
        )
    fresh = out.with_name(out.name + ".building")
    if fresh.exists():  # a build of ours that was interrupted
        shutil.rmtree(fresh)
    make(ctx, fresh)
    if out.exists():
        stale = out.with_name(out.name + ".replaced")
        shutil.rmtree(stale, ignore_errors=True)
        out.rename(stale)
        fresh.rename(out)
        shutil.rmtree(stale)
    else:
        fresh.rename(out)


@dataclass(frozen=True)
class Ours:
    """How one of our variants is exported: the ``ExportOptions`` beyond the model's.

    ``int8_scope`` None: the exporter's default (TFLite int8: the linear scope). The export
    spec must offer (target, quantization), else this raises when VARIANTS is made.
    """

    target: str
    quantization: str
    qat: bool = False
    int8_scope: str | None = None

    def __post_init__(self) -> None:
        offer(self.target, self.quantization)

    def settings(self) -> dict:
        """This variant's part of the build key."""
        settings = {"target": self.target, "quantization": self.quantization, "qat": self.qat}
        if self.qat:  # builds from before --qat checked itself against post-training int8 differ
            settings["qat_fallback"] = True
        if self.int8_scope is not None:
            settings["int8_scope"] = self.int8_scope
        return settings

    def export_options(self, ctx: BuildContext, out: Path | None):
        """The ExportOptions the report builds this variant with (``out`` None: the
        export's default directory, as ``python -m convbert_edge.export`` would use)."""
        from convbert_edge.exporters.options import ExportOptions

        extra = {"qat": True} if self.qat else {}
        if self.int8_scope is not None:
            extra["int8_scope"] = self.int8_scope
        return ExportOptions(
            target=self.target,
            quantization=self.quantization,
            model=ctx.model,
            task=ctx.task,
            seq_len=ctx.seq_len,
            calibration=ctx.calibration,
            calibration_samples=ctx.calibration_samples,
            out=out,
            cache_dir=ctx.cache_dir,
            **extra,
        )


def _ours(ours: Ours):
    def make(ctx: BuildContext, out: Path) -> None:
        from convbert_edge.errors import ExportError
        from convbert_edge.exporters.pipeline import export

        try:
            options = ours.export_options(ctx, out)
            result = export(options, log=lambda line: ctx.log("      " + line))
        except (ExportError, ValueError) as err:
            raise NotAvailable(str(err).splitlines()[0]) from None
        if not result.verify.passed:  # published at OUT.failed, not at out
            raise NotAvailable(f"outside its verification tolerance ({result.directory})")

    return _cached(make, ours.settings())


def _peer(name: str):
    def make(ctx: BuildContext, out: Path) -> None:
        from convbert_edge.errors import ExportError
        from convbert_edge.exporters.peers import PeerUnavailable, build_peer

        example, calibration = ctx.calls()
        try:
            build_peer(name, ctx.model_dir, ctx.task, out, example, calibration, log=ctx.log)
        except PeerUnavailable as err:
            raise NotAvailable(str(err)) from None
        except ExportError as err:
            raise NotAvailable(f"the peer path failed here: {str(err).splitlines()[0]}") from None

    return _cached(make, {"peer": name})


def _our_variant(label: str, precision: str, ours: Ours) -> Variant:
    return Variant(label, "ours", ours.target, precision, _ours(ours), export=ours)


def _eager(kind: str):
    def build(ctx: BuildContext, name: str) -> RunnerSpec:
        return RunnerSpec(kind, str(ctx.model_dir), ctx.task)

    return build


VARIANTS: dict[str, Variant] = {
    "transformers-eager": Variant(
        "transformers eager fp32", "baseline", "torch", "fp32", _eager("eager-transformers")
    ),
    "ours-eager": Variant(
        "ours PyTorch eager fp32", "baseline", "torch", "fp32", _eager("eager-ours")
    ),
    "tflite-fp32": _our_variant("TFLite fp32", "fp32", Ours("tflite", "fp32")),
    "tflite-fp16": _our_variant("TFLite fp16", "fp16", Ours("tflite", "fp16")),
    "tflite-dynamic-int8": _our_variant(
        "TFLite dynamic int8", "dynamic-int8", Ours("tflite", "dynamic-int8")
    ),
    "tflite-int8": _our_variant(
        "TFLite int8 (integer-only)", "int8", Ours("tflite", "int8", int8_scope="all")
    ),
    "tflite-int8-linear": _our_variant(
        "TFLite int8 (linear layers)", "int8", Ours("tflite", "int8", int8_scope="linear")
    ),
    "tflite-qat": _our_variant(
        "TFLite QAT int8 (integer-only)",
        "qat-int8",
        Ours("tflite", "int8", qat=True, int8_scope="all"),
    ),
    "executorch-fp32": _our_variant("ExecuTorch fp32", "fp32", Ours("executorch", "fp32")),
    "executorch-int8": _our_variant("ExecuTorch int8", "int8", Ours("executorch", "int8")),
    "executorch-qat": _our_variant(
        "ExecuTorch QAT int8", "qat-int8", Ours("executorch", "int8", qat=True)
    ),
    "onnx-fp32": _our_variant("ONNX fp32", "fp32", Ours("onnx", "fp32")),
    "onnx-int8": _our_variant("ONNX int8", "int8", Ours("onnx", "int8")),
    "peer-onnx-dynamic-int8": Variant(
        "peer: ORT dynamic int8 (optimum)",
        "peer",
        "onnx",
        "dynamic-int8",
        _peer("onnx-dynamic-int8"),
    ),
    "peer-litert-torch-int8": Variant(
        "peer: litert-torch PT2E int8", "peer", "tflite", "int8", _peer("litert-torch-int8")
    ),
    "peer-executorch-fp32": Variant(
        "peer: ExecuTorch fp32 (transformers)",
        "peer",
        "executorch",
        "fp32",
        _peer("executorch-fp32"),
    ),
    "peer-executorch-int8": Variant(
        "peer: ExecuTorch int8 (transformers)",
        "peer",
        "executorch",
        "int8",
        _peer("executorch-int8"),
    ),
}

# The rows measured for the extra random-weight shapes (latency and GEMM limit only).
SHAPE_VARIANTS: tuple[str, ...] = (
    "transformers-eager",
    "tflite-int8",
    "tflite-int8-linear",
    "executorch-int8",
    "onnx-int8",
    "peer-onnx-dynamic-int8",
    "peer-litert-torch-int8",
    "peer-executorch-int8",
)


def parse_variants(text: str | None) -> list[str]:
    """A comma list of variant names (None or "all": every one), checked against VARIANTS."""
    if text is None or text.strip() in ("", "all"):
        return list(VARIANTS)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; valid: {', '.join(VARIANTS)}")
    return names


def build_variant(name: str, ctx: BuildContext) -> RunnerSpec:
    """Build (or reuse) variant ``name``; raises NotAvailable when it cannot be made here."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; valid: {', '.join(VARIANTS)}")
    return VARIANTS[name].build(ctx, name)
