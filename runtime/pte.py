"""Loading and running a .pte with ExecuTorch's Python runtime: the one way.

    forward = load_pte("model.pte", threads=2)
    outputs = forward([input_ids, attention_mask, token_type_ids])  # list of torch tensors

Everything that runs a .pte (the Session, the report's GEMM probe, tests, benchmarks)
loads it here, so every caller gets the header check that keeps a malformed file from
aborting the process, the same thread settings and the torch-thread fix on each call.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

from convbert_edge.errors import ArtifactError


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


class PteForward:
    """A loaded program's ``forward`` method; calling it runs one batch.

    Args:
        method: the executorch.runtime Method to call.

    Example:
        ``load_pte(path)([ids, mask, types])[0]`` is the first output, a torch tensor.
    """

    def __init__(self, method):
        self.method = method

    def __call__(self, inputs: Sequence) -> list:
        """Inputs: the torch tensors forward takes, in order; returns its outputs."""
        with torch_single_threaded():
            return list(self.method.execute(list(inputs)))


def import_executorch_runtime():
    """ExecuTorch's (portable_lib, Runtime); ArtifactError saying what to install if it is
    missing."""
    try:
        from executorch.extension.pybindings import portable_lib
        from executorch.runtime import Runtime
    except ImportError:
        raise ArtifactError("running a .pte needs executorch: pip install executorch") from None
    return portable_lib, Runtime


def load_pte(path: str | os.PathLike, threads: int | None = None) -> PteForward:
    """The ``forward`` method of the .pte at ``path``, ready to call.

    Args:
        path: an ExecuTorch program file; its header is checked first.
        threads: the size of ExecuTorch's (XNNPACK's) thread pool, which is one pool per
            process, so this sets it for every program loaded; None leaves it as it is.

    Raises:
        ArtifactError: executorch is not installed, or the file is not a program it loads.
    """
    path = Path(path)
    check_pte_header(path)
    portable_lib, Runtime = import_executorch_runtime()
    if threads is not None:
        # The Python runtime has no thread setting of its own; this is the only handle.
        portable_lib._unsafe_reset_threadpool(threads)
    try:
        program = Runtime.get().load_program(path)
        return PteForward(program.load_method("forward"))
    except Exception as err:  # the runtime raises RuntimeError or its own types
        raise ArtifactError(f"{path} could not be loaded by ExecuTorch ({err})") from None
