"""Where a .pte spends its time, operator by operator, from ExecuTorch's own event tracer.

    profile = profile_pte("model.pte", threads=2, runs=30)
    profile.by_kind()       # {"Fully Connected (NC, QS8, QC8W) GEMM": (39.0, 1.01), ...}
    profile.delegate_ms     # the XNNPACK delegate calls, per call
    profile.operators_ms    # the sum of XNNPACK's operators inside them, per call

The pybindings runtime records an ETDump when asked (``enable_etdump``): every method
execution, every operator outside a delegate, each delegate call, and, inside an XNNPACK
delegate, each of XNNPACK's own operators. ``executorch.devtools.Inspector`` reads it
back. The difference between ``delegate_ms`` and ``operators_ms`` is the delegate's
per-call work outside its operators (ExecuTorch's XNNPACK executor re-plans the whole
runtime, ``xnn_reshape_runtime``, on every call), so it grows with the operator count.

Inputs are zeros of each input's shape and dtype, read from the program (token id 0 and
an all-zero mask are valid for every model of this project); operator times of these
models do not depend on the values.
"""

from __future__ import annotations

import os
import re
import statistics
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from convbert_edge.errors import ArtifactError
from convbert_edge.runtime.pte import check_pte_header

# executorch's ScalarType codes for the input dtypes these programs use
_DTYPES = {1: "int8", 3: "int32", 4: "int64", 6: "float32"}
_NUMBERED = re.compile(r" #\d+$")  # XNNPACK names operators "<kind> #<index>"


@dataclass(frozen=True)
class PteProfile:
    """Median milliseconds per call of each traced event of one program.

    Attributes:
        events: (name, delegated, ms per call) for every event of the execution block;
            delegated is True for XNNPACK's own operators.
        runs: number of profiled calls.
    """

    events: list[tuple[str, bool, float]] = field(default_factory=list)
    runs: int = 0

    def _total(self, name: str) -> float:
        return sum(ms for n, delegated, ms in self.events if n == name and not delegated)

    @property
    def execute_ms(self) -> float:
        """The whole method, per call."""
        return self._total("Method::execute")

    @property
    def delegate_ms(self) -> float:
        """All delegate calls, per call."""
        return self._total("DELEGATE_CALL")

    @property
    def operators_ms(self) -> float:
        """XNNPACK's operators inside the delegates, summed, per call."""
        return sum(ms for _, delegated, ms in self.events if delegated)

    def by_kind(self) -> dict[str, tuple[int, float]]:
        """{operator kind: (operators of that kind, ms per call)}, slowest first.

        XNNPACK's operators are grouped by kind ("Transpose (ND, X32)"); operators outside
        the delegates keep their kernel names ("native_call_embedding.out").
        """
        table: dict[str, list[float]] = defaultdict(list)
        for name, delegated, ms in self.events:
            if delegated or name.startswith("native_call_"):
                table[_NUMBERED.sub("", name)].append(ms)
        rows = {kind: (len(times), sum(times)) for kind, times in table.items()}
        return dict(sorted(rows.items(), key=lambda item: -item[1][1]))

    def text(self) -> str:
        """The table by kind and the per-call totals, for printing."""
        lines = [f"{'operator kind':50} {'ops':>5} {'ms/call':>9}"]
        lines += [f"{kind:50} {n:5d} {ms:9.3f}" for kind, (n, ms) in self.by_kind().items()]
        lines += [
            f"method execute {self.execute_ms:.3f} ms, delegate calls {self.delegate_ms:.3f} ms,"
            f" XNNPACK operators {self.operators_ms:.3f} ms (median of {self.runs} calls)"
        ]
        return "\n".join(lines)


def profile_pte(path: str | os.PathLike, threads: int = 2, runs: int = 30) -> PteProfile:
    """Run the .pte ``runs`` times with ExecuTorch's event tracer and read the medians.

    Args:
        path: an ExecuTorch program (checked as load_pte checks it).
        threads: XNNPACK's thread pool size (one pool per process: this sets it for every
            program loaded afterwards too).
        runs: traced calls. ETDump traces every call, the first (cold) one too; the
            medians leave it out.

    Raises:
        ArtifactError: the file is missing, executorch is missing, or the file is not a
            program it loads.
    """
    import numpy as np

    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path} does not exist; give the model.pte an export wrote")
    check_pte_header(path)
    if runs < 1:
        raise ArtifactError(f"profile_pte needs at least one run, got runs={runs}")
    try:
        import torch
        from executorch.devtools import Inspector
        from executorch.extension.pybindings import portable_lib
    except ImportError:
        raise ArtifactError("profiling a .pte needs executorch: pip install executorch") from None
    portable_lib._unsafe_reset_threadpool(threads)
    try:
        module = portable_lib._load_for_executorch(
            str(path), enable_etdump=True, debug_buffer_size=0
        )
    except Exception as err:  # the runtime raises RuntimeError or its own types
        raise ArtifactError(f"{path} could not be loaded by ExecuTorch ({err})") from None
    meta = module.method_meta("forward")
    inputs = []
    for i in range(meta.num_inputs()):
        tensor = meta.input_tensor_meta(i)
        dtype = _DTYPES.get(int(tensor.dtype()))
        if dtype is None:
            raise ArtifactError(f"{path}: input {i} has a dtype profile_pte does not fill")
        inputs.append(torch.from_numpy(np.zeros(tensor.sizes(), dtype=dtype)))
    for _ in range(runs):
        module.forward(tuple(inputs))
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "profile.etdp"
        module.write_etdump_result_to_file(str(dump))
        inspector = Inspector(etdump_path=str(dump))
    events = [
        (event.name, bool(event.is_delegated_op), statistics.median(event.perf_data.raw))
        for block in inspector.event_blocks
        if block.name == "Execute"
        for event in block.events
        if event.perf_data is not None
    ]
    return PteProfile(events=events, runs=runs)
