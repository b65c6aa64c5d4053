"""One Session API over the three runtimes: LiteRT (.tflite), ExecuTorch (.pte), ONNX Runtime.

    session = load("artifacts/tflite-int8")        # reads manifest.json, checks sha256
    outputs = session.run({"input_ids": ids, ...})  # dict name -> float32 numpy array

Loading a .tflite or .onnx artifact imports neither torch nor tensorflow.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from convbert_edge.errors import ArtifactError
from convbert_edge.targets import Target

from .crash_guard import run_in_child
from .input_checks import check_inputs
from .manifest import Manifest, TensorSpec


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


class TFLiteSession(Session):
    def __init__(self, manifest: Manifest, model_path: Path, threads: int):
        super().__init__(manifest, model_path, threads)
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            try:  # the older standalone interpreter, where it is what is installed
                from tflite_runtime.interpreter import Interpreter
            except ImportError:
                raise ArtifactError(
                    "running a .tflite artifact needs ai-edge-litert: pip install ai-edge-litert"
                ) from None
        try:
            self._interpreter = Interpreter(model_path=str(model_path), num_threads=threads)
            self._runner = self._interpreter.get_signature_runner()
        except (ValueError, RuntimeError) as err:
            raise ArtifactError(
                f"{model_path} could not be loaded by the LiteRT interpreter ({err}); if it "
                "names an op this interpreter lacks, install ai-edge-litert"
            ) from None

    def _run(self, feed):
        return self._runner(**feed)


def check_pte_header(path: Path) -> None:
    """Refuse a file that is not a whole ExecuTorch program before the runtime sees it.

    executorch 1.5.1's loader aborts the whole process on some malformed files (it logs
    the bad bytes, and the log call raises inside C++), so the file identifier and the
    size promised by the extended header are checked here first.
    """
    with open(path, "rb") as f:
        head = f.read(64)
    size = path.stat().st_size
    if len(head) < 8 or head[4:6] != b"ET" or not head[6:8].isdigit():
        raise ArtifactError(f"{path} is not an ExecuTorch program (no ET file identifier)")
    if head[8:12] == b"eh00" and len(head) >= 32:
        length = int.from_bytes(head[12:16], "little")
        program_size = int.from_bytes(head[16:24], "little")
        segment_base = int.from_bytes(head[24:32], "little")
        segment_size = int.from_bytes(head[32:40], "little") if length > 24 else 0
        expected = segment_base + segment_size if segment_base else program_size
        if size < expected:
            raise ArtifactError(
                f"{path} is truncated: {size} bytes, its header promises {expected}; "
                "export the artifact again"
            )


@contextmanager
def torch_single_threaded():
    """Run the block with torch's own intra-op pool at one thread, then restore it.

    ExecuTorch hands its outputs back as torch tensors, copied with torch's OpenMP pool
    when they are large (a (1, 128, 768) activation, say). Those OpenMP threads then
    spin-wait for milliseconds on the cores XNNPACK's own pool needs for the next call:
    measured on a 2-core machine, a 128 x 768 -> 3072 int8 linear at 2 threads took
    1.55 ms median with the spin and 0.81 ms without (0.81 is twice the 1-thread speed).
    Setting the pool size is cheap, and it is restored, so torch code around it keeps
    its threads.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class ExecuTorchSession(Session):
    def __init__(self, manifest: Manifest, model_path: Path, threads: int):
        super().__init__(manifest, model_path, threads)
        check_pte_header(model_path)
        try:
            from executorch.extension.pybindings import portable_lib
            from executorch.runtime import Runtime
        except ImportError:
            raise ArtifactError(
                "running a .pte artifact needs executorch: pip install executorch"
            ) from None
        portable_lib._unsafe_reset_threadpool(threads)
        try:
            program = Runtime.get().load_program(model_path)
            self._method = program.load_method("forward")
        except Exception as err:  # the runtime raises RuntimeError or its own types
            raise ArtifactError(f"{model_path} could not be loaded by ExecuTorch ({err})") from None

    def _run(self, feed):
        import torch

        args = [torch.from_numpy(np.ascontiguousarray(feed[s.name])) for s in self.manifest.inputs]
        with torch_single_threaded():
            outputs = self._method.execute(args)
        return {s.name: o.numpy() for s, o in zip(self.manifest.outputs, outputs, strict=True)}


class OnnxSession(Session):
    def __init__(self, manifest: Manifest, model_path: Path, threads: int):
        super().__init__(manifest, model_path, threads)
        import onnxruntime as ort

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

    def _run(self, feed):
        names = [s.name for s in self.manifest.outputs]
        return dict(zip(names, self._session.run(names, feed), strict=True))


SESSIONS: dict[Target, type[Session]] = {
    Target.TFLITE: TFLiteSession,
    Target.EXECUTORCH: ExecuTorchSession,
    Target.ONNX: OnnxSession,
}


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
        run_in_child("probe", directory, threads=1)
    return SESSIONS[Target(manifest.target)](manifest, model_path, threads)
