"""LiteRT's own per-operator profile of a .tflite (runtime.litert_profile), as a table.

    python benchmarks/profile_tflite.py artifacts/<name>/model.tflite [--threads 2] [--runs 20]

Prints the node types by time per call: XNNPACK's operators ("Delegate/...") and the
builtin kernels no delegate took (marked "outside"), with how many run per call, the
number of XNNPACK partitions, and the profiled total. The TFLite counterpart of
benchmarks/profile_pte.py. Run it alone: the machine's other load shows in every figure.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from convbert_edge.errors import ConvBertEdgeError
from convbert_edge.runtime.litert_profile import delegate_partitions, profile_ops


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tflite", type=Path, help="a LiteRT model (.tflite)")
    parser.add_argument("--threads", type=int, default=2, help="XNNPACK threads (default 2)")
    parser.add_argument("--runs", type=int, default=20, help="profiled calls (default 20)")
    args = parser.parse_args(argv)
    try:
        model = args.tflite.read_bytes()
        profile = profile_ops(model, num_threads=args.threads, runs=args.runs)
        partitions = delegate_partitions(model, num_threads=args.threads)
    except (ConvBertEdgeError, OSError) as error:  # a missing or broken model: no traceback
        raise SystemExit(f"profile_tflite: {error}") from None
    table = profile.by_node_type()
    print(f"{'node type':<56} {'per call':>8} {'ms/call':>9}")
    for name, (count, ms) in sorted(table.items(), key=lambda kv: -kv[1][1]):
        where = "" if name.startswith("Delegate/") else "  outside"
        print(f"{name:<56} {count:>8g} {ms:>9.3f}{where}")
    total = sum(ms for _, ms in table.values())
    print(
        f"{partitions} XNNPACK partitions; {total:.2f} ms profiled per call "
        f"({args.runs} calls, {args.threads} threads)"
    )


if __name__ == "__main__":
    main()
