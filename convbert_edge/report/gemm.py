"""How close a variant comes to this CPU's limit: its throughput against the runtime's
own int8 GEMM speed on the model's largest linear layer at the model's shape.

    flops = model_flops(config, seq_len)               # multiply-adds x 2, one call
    layer = largest_linear(config, seq_len)            # (rows, in, out)
    limits = measure_gemm_limits(layer, threads=[1, 2])  # threads -> runtime -> GemmLimit
    fraction = flops / latency_s / 1e9 / limits[2]["tflite"].gops
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convbert_edge.config import ConvBertConfig

from .timing import LatencyStats, round_robin
from .workers import Worker, settling_for


def model_flops(c: ConvBertConfig, seq_len: int) -> float:
    """Floating-point (or integer) operations of one batch-1 call: 2 x multiply-adds of the
    linears, convolutions and attention products; elementwise work is left out."""
    L, H, E, F = seq_len, c.hidden_size, c.embedding_size, c.intermediate_size
    k = c.conv_kernel_size
    A = c.all_head_size  # attention + convolution width, H / 2 each
    heads = c.num_attention_heads // c.head_ratio if c.num_attention_heads >= c.head_ratio else 1
    per_layer = (
        3 * L * H * A  # query, key, value
        + L * H * k
        + L * H * A  # separable conv of the key: depthwise + pointwise
        + L * A * heads * k  # conv kernel logits
        + L * H * A  # conv_out_layer
        + 2 * L * L * A  # attention scores and mix
        + L * A * k  # the dynamic convolution itself
        + L * H * H  # attention output dense
        + 2 * L * H * F // c.num_groups  # feed-forward in and out
    )
    macs = c.num_hidden_layers * per_layer + (L * E * H if E != H else 0) + H * H
    return 2.0 * macs


def largest_linear(c: ConvBertConfig, seq_len: int) -> tuple[int, int, int]:
    """(rows, in_features, out_features) of the model's largest dense layer at seq_len
    (for every preset the feed-forward intermediate dense, hidden -> intermediate)."""
    g = c.num_groups
    candidates = [
        (c.hidden_size, c.intermediate_size // g),
        (c.intermediate_size // g, c.hidden_size),
        (c.hidden_size, c.hidden_size),
    ]
    k, n = max(candidates, key=lambda kn: kn[0] * kn[1])
    return seq_len, k, n


# The probe is this many linears of the layer's size in a chain, (in -> out, out -> in)
# repeated, like a feed-forward block without its activation: one layer of conv-bert-small
# takes 0.1-0.3 ms, where a call's fixed cost and waking a second thread decide the time
# (ExecuTorch's one-layer probe measured slower on two threads than on one).
PROBE_LAYERS = 8


@dataclass(frozen=True)
class GemmLimit:
    """One runtime's int8 GEMM speed on one layer shape: the probe's latency and GOP/s."""

    runtime: str
    shape: tuple[int, int, int]
    threads: int
    latency: LatencyStats
    layers: int = PROBE_LAYERS

    @property
    def gops(self) -> float:
        rows, k, n = self.shape
        return 2.0 * rows * k * n * self.layers / (self.latency.median / 1e3) / 1e9

    def as_dict(self) -> dict:
        return {
            "runtime": self.runtime,
            "shape": list(self.shape),
            "layers": self.layers,
            "threads": self.threads,
            "gops": self.gops,
            "latency_ms": self.latency.as_dict(),
        }


@functools.cache
def _tflite_gemm_model(shape: tuple[int, int, int]) -> bytes:
    import keras
    import tensorflow as tf

    rows, k, n = shape
    inputs = keras.Input((rows, k), batch_size=1, name="x")
    x = inputs
    for i in range(PROBE_LAYERS):
        x = keras.layers.Dense(n if i % 2 == 0 else k)(x)
    model = keras.Model(inputs, x)
    rng = np.random.default_rng(0)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: (
        [rng.standard_normal((1, rows, k)).astype(np.float32)] for _ in range(8)
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def _tflite_gemm(shape, threads: int, workdir: Path) -> Callable[[], object]:
    from convbert_edge.runtime.litert import litert_interpreter

    rows, k, _ = shape
    interpreter = litert_interpreter(_tflite_gemm_model(shape), threads)
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    rng = np.random.default_rng(0)
    interpreter.set_tensor(index, rng.integers(-128, 127, (1, rows, k), dtype=np.int8))
    return interpreter.invoke


@functools.cache
def _executorch_gemm_model(shape: tuple[int, int, int], workdir: Path) -> Path:
    import torch

    from convbert_edge.exporters.executorch import lower_to_pte, quantize_pt2e
    from convbert_edge.quantize.recipes import recipe_for

    rows, k, n = shape
    torch.manual_seed(0)
    layer = torch.nn.Sequential(
        *(
            torch.nn.Linear(k, n) if i % 2 == 0 else torch.nn.Linear(n, k)
            for i in range(PROBE_LAYERS)
        )
    ).eval()
    x = torch.randn(1, rows, k)
    recipe = recipe_for("int8", calibration_samples=4)
    quantized = quantize_pt2e(layer, (x,), recipe, [(torch.randn(1, rows, k),) for _ in range(4)])
    path = workdir / "gemm.pte"
    path.write_bytes(lower_to_pte(quantized, (x,)).program)
    return path


def _executorch_gemm(shape, threads: int, workdir: Path) -> Callable[[], object]:
    import torch

    from convbert_edge.runtime.pte import load_pte

    forward = load_pte(_executorch_gemm_model(shape, workdir), threads)
    x = torch.randn(1, shape[0], shape[1], generator=torch.Generator().manual_seed(0))
    return lambda: forward([x])  # with torch's pool at one thread, as the Session runs


@functools.cache
def _onnx_gemm_model(shape: tuple[int, int, int], workdir: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from convbert_edge.exporters.onnx import quantize_static_qdq

    rows, k, n = shape
    rng = np.random.default_rng(0)
    nodes, initializers, x = [], [], "x"
    for i in range(PROBE_LAYERS):
        a, b = (k, n) if i % 2 == 0 else (n, k)
        w = rng.standard_normal((a, b)).astype(np.float32) * 0.05
        initializers += [
            numpy_helper.from_array(w, f"w{i}"),
            numpy_helper.from_array(np.zeros(b, np.float32), f"b{i}"),
        ]
        nodes += [
            helper.make_node("MatMul", [x, f"w{i}"], [f"m{i}"]),
            helper.make_node("Add", [f"m{i}", f"b{i}"], [f"y{i}"]),
        ]
        x = f"y{i}"
    out_features = n if PROBE_LAYERS % 2 else k
    graph = helper.make_graph(
        nodes,
        "gemm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, rows, k])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, rows, out_features])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    fp32, int8 = workdir / "gemm.onnx", workdir / "gemm.int8.onnx"
    onnx.save(model, fp32)
    feeds = [{"x": rng.standard_normal((1, rows, k)).astype(np.float32)} for _ in range(4)]
    quantize_static_qdq(fp32, int8, feeds)  # the same quantization as our ONNX int8 artifact
    return int8


def _onnx_gemm(shape, threads: int, workdir: Path) -> Callable[[], object]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        str(_onnx_gemm_model(shape, workdir)), options, providers=["CPUExecutionProvider"]
    )
    rows, k, _ = shape
    feed = {"x": np.random.default_rng(1).standard_normal((1, rows, k)).astype(np.float32)}
    return lambda: session.run(None, feed)


GEMM_BUILDERS: dict[str, Callable[[tuple[int, int, int], int, Path], Callable[[], object]]] = {
    "tflite": _tflite_gemm,
    "executorch": _executorch_gemm,
    "onnx": _onnx_gemm,
}


@functools.cache
def _scratch() -> tempfile.TemporaryDirectory:
    """This process's scratch directory for probe models, removed when it exits."""
    return tempfile.TemporaryDirectory(prefix="convbert-edge-gemm-")


def gemm_probe(runtime: str, shape: tuple[int, int, int], threads: int) -> Callable[[], object]:
    """A worker factory: ``runtime``'s int8 probe (PROBE_LAYERS linears) at ``shape``, as
    a call. The model is built once per process, so reopening at another thread count
    only loads it."""
    return GEMM_BUILDERS[runtime](tuple(shape), threads, Path(_scratch().name))


def measure_gemm_limits(
    shape: tuple[int, int, int],
    threads: Sequence[int],
    runtimes: tuple[str, ...] = tuple(GEMM_BUILDERS),
    runs: int = 100,
    warmup: int = 10,
) -> dict[int, dict[str, GemmLimit]]:
    """Each runtime's int8 probe at ``shape``, each in a worker process of its
    own, timed round-robin together at each thread count: threads -> runtime -> limit."""
    workers: dict[str, Worker] = {}
    limits: dict[int, dict[str, GemmLimit]] = {}
    try:
        for i, t in enumerate(threads):
            for runtime in runtimes:
                if i == 0:
                    workers[runtime] = Worker(
                        gemm_probe,
                        (runtime, shape, t),
                        name=f"{runtime} int8 GEMM probe",
                        **settling_for(t),
                    )
                else:
                    workers[runtime].reopen(runtime, shape, t, **settling_for(t))
            times = round_robin(workers, runs=runs, warmup=warmup)
            limits[t] = {r: GemmLimit(r, shape, t, LatencyStats.of(times[r])) for r in runtimes}
    finally:
        for worker in workers.values():
            worker.close()
    return limits
