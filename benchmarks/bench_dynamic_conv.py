"""The dynamic convolution's mixing step, two ways, as fp32 TFLite models on XNNPACK.

    python benchmarks/bench_dynamic_conv.py [--runs 300] [--threads 2]

``band``: keras_stack.attention's formulation, the per-position kernels laid out as a
band matrix and one batched matmul with the values (what the models export).
``shifted``: the values padded once, then k shifted slices, each times its kernel
column, summed (2k - 1 element-wise ops, no matmul). Both compute the same sum; the
script prints their largest difference and the median time of each, timed
round-robin, at the default model's heads (2 of 64) and conv-bert-base's (6 of 64),
sequence 128, kernel 9.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np

SHAPES = {"default model": (128, 2, 64, 9), "conv-bert-base": (128, 6, 64, 9)}  # l, n, d, k


def band(kernels, values):
    from keras import ops

    from convbert_edge.keras_stack.attention import band_matrix

    return ops.matmul(band_matrix(kernels), values)  # (b, n, l, d)


def shifted(kernels, values):
    from keras import ops

    _, _, length, _ = values.shape
    k = kernels.shape[-1]
    pad = (k - 1) // 2
    v = ops.transpose(values, (0, 2, 1, 3))  # (b, l, n, d)
    padded = ops.pad(v, ((0, 0), (pad, k - 1 - pad), (0, 0), (0, 0)))
    out = padded[:, :length] * kernels[:, :, :, :1]
    for j in range(1, k):
        out = out + padded[:, j : j + length] * kernels[:, :, :, j : j + 1]
    return ops.transpose(out, (0, 2, 1, 3))  # (b, n, l, d)


def tflite(fn, length: int, heads: int, size: int, k: int) -> bytes:
    import tensorflow as tf

    @tf.function(
        input_signature=[
            tf.TensorSpec((1, length, heads, k), name="kernels"),
            tf.TensorSpec((1, heads, length, size), name="values"),
        ]
    )
    def mix(kernels, values):
        return fn(kernels, values)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([mix.get_concrete_function()])
    return converter.convert()


def main(argv: list[str] | None = None) -> None:
    import ai_edge_litert.interpreter as litert

    from convbert_edge.report.timing import round_robin

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    for label, (length, heads, size, k) in SHAPES.items():
        rng = np.random.default_rng(0)
        kernels = rng.random((1, length, heads, k)).astype(np.float32)
        kernels /= kernels.sum(-1, keepdims=True)
        values = rng.standard_normal((1, heads, length, size)).astype(np.float32)
        calls, outputs = {}, {}
        for name, fn in (("band", band), ("shifted", shifted)):
            interpreter = litert.Interpreter(
                model_content=tflite(fn, length, heads, size, k), num_threads=args.threads
            )
            interpreter.allocate_tensors()
            for detail in interpreter.get_input_details():
                is_kernels = tuple(detail["shape"]) == kernels.shape
                interpreter.set_tensor(detail["index"], kernels if is_kernels else values)
            interpreter.invoke()
            outputs[name] = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
            calls[name] = interpreter.invoke
        gap = float(np.abs(outputs["band"] - outputs["shifted"]).max())
        times = round_robin(calls, args.runs)
        print(f"{label} (l {length}, {heads} heads of {size}, k {k}); max difference {gap:.1e}")
        for name in calls:
            print(f"  {name:>8}: median {statistics.median(times[name]):.4f} ms")


if __name__ == "__main__":
    main()
