"""One Session API over the three runtimes: LiteRT (.tflite), ExecuTorch (.pte), ONNX Runtime.

    session = load("artifacts/tflite-int8")        # reads manifest.json, checks sha256
    outputs = session.run({"input_ids": ids, ...})  # dict name -> float32 numpy array

Loading a .tflite or .onnx artifact imports neither torch nor tensorflow.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from convbert_edge.errors import ArtifactError
from convbert_edge.targets import Target

from .crash_guard import Child
from .input_checks import check_inputs
from .litert import interpreter_class, litert_runner
from .manifest import Manifest, TensorSpec
from .pte import import_executorch_runtime, load_pte


def _quantize(x: np.ndarray, spec: TensorSpec) -> np.ndarray:
    if spec.scale is None:
        return x.astype(spec.dtype, copy=False)
    info = np.iinfo(spec.dtype)
    q = np.round(x / spec.scale) + (spec.zero_point or 0)
    return np.clip(q, info.min, info.max).astype(spec.dtype)


def _dequantize(q: np.ndarray, spec: TensorSpec) -> np.ndarray:
    if spec.scale is None:
        return np.asarray(q, dtype=np.float32) if np.issubdtype(q.dtype, np.floating) else q
    return ((q.astype(np.float32) - (spec.zero_point or 0)) * spec.scale).astype(np.float32)


class Session(ABC):
    """A loaded artifact. ``run`` takes and returns dicts of numpy arrays keyed by name."""

    def __init__(self, manifest: Manifest, model_path: Path, threads: int):
        self.manifest = manifest
        self.model_path = model_path
        self.threads = threads

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one call. Inputs must have exactly the manifest's names, an integer dtype,
        its static shapes, and ids inside the model's vocabularies (check_inputs, the
        same for every runtime); anything else raises InputError."""
        arrays = check_inputs(self.manifest, inputs)
        feed = {spec.name: _quantize(arrays[spec.name], spec) for spec in self.manifest.inputs}
        raw = self._run(feed)
        return {spec.name: _dequantize(raw[spec.name], spec) for spec in self.manifest.outputs}

    @abstractmethod
    def _run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    @staticmethod
    @abstractmethod
    def import_runtime() -> None:
        """Import the runtime library; ArtifactError saying what to install if it is missing."""


class TFLiteSession(Session):
    def __init__(self, manifest: Manifest, model_path: Path, threads: int):
        super().__init__(manifest, model_path, threads)
        self._runner = litert_runner(model_path, num_threads=threads)

    @staticmethod
    def import_runtime() -> None:
        interpreter_class()

    def _run(self, feed):
        return self._runner(**feed)


class ExecuTorchSession(Session):
    def __init__(self, manifest: Manifest, model_path: Path, threads: int):
        super().__init__(manifest, model_path, threads)
        self._forward = load_pte(model_path, threads=threads)

    @staticmethod
    def import_runtime() -> None:
        import_executorch_runtime()

    def _run(self, feed):
        import torch

        args = [torch.from_numpy(np.ascontiguousarray(feed[s.name])) for s in self.manifest.inputs]
        outputs = self._forward(args)
        return {s.name: o.numpy() for s, o in zip(self.manifest.outputs, outputs, strict=True)}


def _onnxruntime():
    """The onnxruntime module; ArtifactError saying what to install if it is missing."""
    try:
        import onnxruntime
    except ImportError:
        raise ArtifactError(
            "running a .onnx model needs onnxruntime: pip install onnxruntime"
        ) from None
    return onnxruntime


class OnnxSession(Session):
    def __init__(self, manifest: Manifest, model_path: Path, threads: int):
        super().__init__(manifest, model_path, threads)
        ort = _onnxruntime()

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(model_path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # onnxruntime raises its own exception types
            raise ArtifactError(
                f"{model_path} could not be loaded by ONNX Runtime ({err})"
            ) from None

    @staticmethod
    def import_runtime() -> None:
        _onnxruntime()

    def _run(self, feed):
        names = [s.name for s in self.manifest.outputs]
        return dict(zip(names, self._session.run(names, feed), strict=True))


SESSIONS: dict[Target, type[Session]] = {
    Target.TFLITE: TFLiteSession,
    Target.EXECUTORCH: ExecuTorchSession,
    Target.ONNX: OnnxSession,
}


def preload(target: Target) -> None:
    """Import ``target``'s runtime library now, so that a later load does not wait for it
    (crash_guard.Child). A library that is missing is left for that load to report."""
    try:
        SESSIONS[target].import_runtime()
    except ArtifactError:
        pass


def load(directory: str | Path, threads: int = 2, isolate: bool = True) -> Session:
    """Open an artifact directory; its model file must match the manifest's sha256.

    ``isolate`` first loads the model and runs one call in a child process
    (runtime/crash_guard.py), so that a model file that crashes its runtime raises
    ArtifactError here instead of ending this process. That costs one process start and
    one model load (docs/reliability.md has the figures); pass False for a model this
    process has already seen run, or that the caller trusts.
    """
    if not isinstance(threads, int) or threads < 1:
        raise ArtifactError(f"threads must be a positive integer, got {threads!r}")
    manifest = Manifest.read(directory)
    model_path = manifest.check_model_file(directory)
    if isolate:
        with Child() as child:
            child.run("probe", directory, threads=1)
    return SESSIONS[Target(manifest.target)](manifest, model_path, threads)
