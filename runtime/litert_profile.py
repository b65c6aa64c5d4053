"""Where a .tflite spends its time, op by op, from LiteRT's own profiler.

    summary = profile_ops(model_bytes, num_threads=2, runs=50)
    print(summary.text)                       # benchmark_model's tables, as LiteRT prints them
    summary.outside_delegates()               # {"SOFTMAX": (nodes, ms per run), ...}
    delegate_partitions(model_bytes)          # XNNPACK partitions, e.g. 33

The Python Interpreter of ai-edge-litert 2.3.0 has no profiler hook, but its libLiteRt.so
exports the C API of the CompiledModel with one (``enable_profiling`` in the runtime
options, ``LiteRtGetProfileSummary``). This module drives that C API through ctypes: the
same TFLite interpreter and XNNPACK delegate the Interpreter uses, with the profiler
benchmark_model uses, so "which ops run outside XNNPACK and what they cost" is measured
rather than guessed. XNNPACK's own operators show as "Delegate/..." node types;
``delegate_partitions`` counts the partitions from the interpreter's execution plan.

Inputs are filled with zeros (token id 0 is valid for every model of this project);
op timings of these models do not depend on the values.
"""

from __future__ import annotations

import ctypes
import os
import re
from dataclasses import dataclass
from pathlib import Path

from convbert_edge.errors import ArtifactError

_OK = 0
_CPU = 1  # kLiteRtHwAcceleratorCpu
_LOCK_WRITE = 1  # kLiteRtTensorBufferLockModeWrite
_NO_DESTRUCTOR = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(lambda _: None)


def _library() -> ctypes.CDLL:
    try:
        import ai_edge_litert
    except ImportError:
        raise ArtifactError(
            "op profiling needs ai-edge-litert: pip install ai-edge-litert"
        ) from None
    path = Path(ai_edge_litert.__file__).parent / "libLiteRt.so"
    if not path.is_file():
        raise ArtifactError(f"op profiling needs LiteRT's C library; {path} is missing")
    lib = ctypes.CDLL(str(path))
    for name, args in _SIGNATURES.items():
        getattr(lib, name).argtypes = args
    return lib


_P, _IDX, _OUT = ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_void_p)
# Argument types of the C functions used (litert/c/*.h): handles are pointers and
# LiteRtParamIndex is size_t, which ctypes would otherwise pass as a C int.
_SIGNATURES = {
    "LiteRtCreateModelFromBuffer": [_P, _P, ctypes.c_size_t, _OUT],
    "LiteRtSetOptionsHardwareAccelerators": [_P, ctypes.c_int],
    "LiteRtAddOpaqueOptions": [_P, _P],
    "LiteRtCreateCompiledModel": [_P, _P, _P, _OUT],
    "LiteRtGetModelSignature": [_P, _IDX, _OUT],
    "LiteRtGetNumSignatureInputs": [_P, ctypes.POINTER(ctypes.c_size_t)],
    "LiteRtGetNumSignatureOutputs": [_P, ctypes.POINTER(ctypes.c_size_t)],
    "LiteRtGetSignatureInputName": [_P, _IDX, ctypes.POINTER(ctypes.c_char_p)],
    "LiteRtGetSignatureOutputName": [_P, _IDX, ctypes.POINTER(ctypes.c_char_p)],
    "LiteRtGetSignatureInputTensor": [_P, ctypes.c_char_p, _OUT],
    "LiteRtGetSignatureOutputTensor": [_P, ctypes.c_char_p, _OUT],
    "LiteRtGetRankedTensorType": [_P, _P],
    "LiteRtGetCompiledModelInputBufferRequirements": [_P, _IDX, _IDX, _OUT],
    "LiteRtGetCompiledModelOutputBufferRequirements": [_P, _IDX, _IDX, _OUT],
    "LiteRtCreateManagedTensorBufferFromRequirements": [_P, _P, _P, _OUT],
    "LiteRtGetTensorBufferSize": [_P, ctypes.POINTER(ctypes.c_size_t)],
    "LiteRtLockTensorBuffer": [_P, _OUT, ctypes.c_int],
    "LiteRtUnlockTensorBuffer": [_P],
    "LiteRtRunCompiledModel": [_P, _IDX, ctypes.c_size_t, _P, ctypes.c_size_t, _P],
    "LiteRtCompiledModelGetProfiler": [_P, _OUT],
    "LiteRtResetProfiler": [_P],
    "LiteRtStartProfiler": [_P],
    "LiteRtStopProfiler": [_P],
    "LiteRtGetProfileSummary": [_P, _P, ctypes.POINTER(ctypes.c_char_p)],
    "LiteRtDestroyTensorBuffer": [_P],
    "LiteRtDestroyCompiledModel": [_P],
    "LiteRtDestroyOptions": [_P],
    "LiteRtDestroyModel": [_P],
    "LiteRtDestroyEnvironment": [_P],
}


@dataclass(frozen=True)
class OpProfile:
    """LiteRT's profile summary of ``runs`` invocations of one model.

    Attributes:
        text: the summary as LiteRT formats it (benchmark_model's tables).
        runs: number of profiled invocations.
    """

    text: str
    runs: int

    def by_node_type(self) -> dict[str, tuple[float, float]]:
        """{node type: (nodes run per invocation, ms per invocation)}.

        Builtin kernels (outside any delegate) are named by op, e.g. "SOFTMAX"; XNNPACK's
        own operators inside its partitions by "Delegate/<operator>", e.g.
        "Delegate/Fully Connected (NC, QS8, QC8W) GEMM", timed from the delegate
        statistics (the node-type table averages those over distinct operator slots).
        """
        rows = _table(self.text, "Summary by node type", 6)
        if not rows:
            raise ArtifactError("LiteRT's profile summary has no 'by node type' table")
        table = {}
        for name, cells in rows:
            # [count] [avg ms] [avg %] [cdf %] [mem KB] [times called]
            calls = float(cells[5]) / self.runs
            table[name] = (calls, float(cells[1]) * calls)
        for name, cells in _table(self.text, "Delegate Statistics", 5):
            # Count Avg(us) Min(us) Max(us) Total(us)
            table[name] = (float(cells[0]) / self.runs, float(cells[4]) / 1e3 / self.runs)
        return table

    def outside_delegates(self) -> dict[str, tuple[float, float]]:
        """``by_node_type`` restricted to the builtin kernels: what no delegate ran."""
        return {k: v for k, v in self.by_node_type().items() if not k.startswith("Delegate/")}


def _table(text: str, title: str, numbers: int) -> list[tuple[str, list[str]]]:
    """Rows (name, its last ``numbers`` cells) of the table under ``title``; names may
    hold spaces, the numeric cells never do."""
    _, found, rest = text.partition(title)
    if not found:
        return []
    rows = []
    for line in rest.splitlines()[1:]:
        if line.startswith("="):
            break
        parts = line.replace("%", " ").split()
        if len(parts) <= numbers:
            continue
        cells = parts[-numbers:]
        if all(re.fullmatch(r"-?\d+(\.\d+)?", c) for c in cells):
            rows.append((" ".join(parts[:-numbers]), cells))
    return rows


def delegate_partitions(model: bytes | str | os.PathLike, num_threads: int = 2) -> int:
    """How many delegate kernels (XNNPACK partitions) LiteRT's interpreter cuts the
    model into: every op XNNPACK refuses between two delegated ones adds one."""
    from .litert import litert_interpreter

    interpreter = litert_interpreter(model if isinstance(model, bytes) else str(model), num_threads)
    interpreter.allocate_tensors()
    return sum(op["op_name"] == "DELEGATE" for op in interpreter._get_ops_details())


def profile_ops(
    model: bytes | str | os.PathLike, num_threads: int = 2, runs: int = 50
) -> OpProfile:
    """Run ``model`` ``runs`` times on the CPU (XNNPACK) with LiteRT's op profiler on.

    Raises:
        ArtifactError: LiteRT's C library is missing or refuses the model.
    """
    data = model if isinstance(model, bytes) else Path(model).read_bytes()
    lib = _library()
    keep = []  # every buffer the C side may still read

    def check(status: int, what: str) -> None:
        if status != _OK:
            raise ArtifactError(f"LiteRT profiling: {what} failed with status {status}")

    def handle() -> ctypes.c_void_p:
        return ctypes.c_void_p()

    def opaque(identifier: str, payload: str):
        ident, text = identifier.encode(), ctypes.create_string_buffer(payload.encode())
        keep.extend((ident, text))
        out = handle()
        check(lib.LiteRtCreateOpaqueOptions(ident, text, _NO_DESTRUCTOR, ctypes.byref(out)),
              f"options {identifier}")  # fmt: skip
        return out

    env, lite_model, options, compiled = handle(), handle(), handle(), handle()
    check(lib.LiteRtCreateEnvironment(0, None, ctypes.byref(env)), "environment")
    buf = ctypes.create_string_buffer(data, len(data))
    keep.append(buf)
    check(lib.LiteRtCreateModelFromBuffer(env, buf, len(data), ctypes.byref(lite_model)), "model")
    check(lib.LiteRtCreateOptions(ctypes.byref(options)), "options")
    check(lib.LiteRtSetOptionsHardwareAccelerators(options, _CPU), "CPU accelerator")
    check(
        lib.LiteRtAddOpaqueOptions(
            options, opaque("runtime_options_string", "enable_profiling = true")
        ),
        "runtime",
    )
    check(
        lib.LiteRtAddOpaqueOptions(options, opaque("cpu_delegate", f"num_threads = {num_threads}")),
        "cpu",
    )
    check(lib.LiteRtCreateCompiledModel(env, lite_model, options, ctypes.byref(compiled)),
          "compiled model")  # fmt: skip
    signature = handle()
    check(lib.LiteRtGetModelSignature(lite_model, 0, ctypes.byref(signature)), "signature")
    inputs = _buffers(lib, check, env, compiled, signature, "Input", keep)
    outputs = _buffers(lib, check, env, compiled, signature, "Output", keep)
    in_array = (ctypes.c_void_p * len(inputs))(*inputs)
    out_array = (ctypes.c_void_p * len(outputs))(*outputs)

    def run() -> None:
        check(lib.LiteRtRunCompiledModel(compiled, 0, len(inputs), in_array, len(outputs),
                                         out_array), "run")  # fmt: skip

    for _ in range(3):  # warm-up: XNNPACK packs weights and plans on the first calls
        run()
    profiler = handle()
    check(lib.LiteRtCompiledModelGetProfiler(compiled, ctypes.byref(profiler)), "profiler")
    check(lib.LiteRtResetProfiler(profiler), "profiler reset")
    check(lib.LiteRtStartProfiler(profiler), "profiler start")
    for _ in range(runs):
        run()
    check(lib.LiteRtStopProfiler(profiler), "profiler stop")
    summary = ctypes.c_char_p()
    check(lib.LiteRtGetProfileSummary(profiler, compiled, ctypes.byref(summary)), "summary")
    text = summary.value.decode()
    for b in inputs + outputs:
        lib.LiteRtDestroyTensorBuffer(b)
    lib.LiteRtDestroyCompiledModel(compiled)
    lib.LiteRtDestroyOptions(options)
    lib.LiteRtDestroyModel(lite_model)
    lib.LiteRtDestroyEnvironment(env)
    return OpProfile(text=text, runs=runs)


def _buffers(lib, check, env, compiled, signature, kind: str, keep: list) -> list[int]:
    """One zero-filled managed buffer per signature input (kind "Input") or output."""
    count = ctypes.c_size_t()
    check(getattr(lib, f"LiteRtGetNumSignature{kind}s")(signature, ctypes.byref(count)),
          f"{kind} count")  # fmt: skip
    out = []
    for i in range(count.value):
        name, tensor = ctypes.c_char_p(), ctypes.c_void_p()
        check(getattr(lib, f"LiteRtGetSignature{kind}Name")(signature, i, ctypes.byref(name)),
              f"{kind} name")  # fmt: skip
        get_tensor = getattr(lib, f"LiteRtGetSignature{kind}Tensor")
        check(get_tensor(signature, name, ctypes.byref(tensor)), f"{kind} tensor")
        tensor_type = ctypes.create_string_buffer(512)  # LiteRtRankedTensorType, opaque here
        keep.append(tensor_type)
        check(lib.LiteRtGetRankedTensorType(tensor, tensor_type), f"{kind} type")
        requirements, buffer = ctypes.c_void_p(), ctypes.c_void_p()
        check(getattr(lib, f"LiteRtGetCompiledModel{kind}BufferRequirements")(
            compiled, 0, i, ctypes.byref(requirements)), f"{kind} requirements")  # fmt: skip
        check(lib.LiteRtCreateManagedTensorBufferFromRequirements(
            env, tensor_type, requirements, ctypes.byref(buffer)), f"{kind} buffer")  # fmt: skip
        size, host = ctypes.c_size_t(), ctypes.c_void_p()
        check(lib.LiteRtGetTensorBufferSize(buffer, ctypes.byref(size)), f"{kind} size")
        check(lib.LiteRtLockTensorBuffer(buffer, ctypes.byref(host), _LOCK_WRITE), "lock")
        ctypes.memset(host, 0, size.value)
        check(lib.LiteRtUnlockTensorBuffer(buffer), "unlock")
        out.append(buffer.value)
    return out
