"""What the crash guard costs: session.load and verify_artifact with the model run in a
child process (the default) against in-process, on the same artifacts, in one run.

    python benchmarks/bench_crash_guard.py ARTIFACT_DIR [ARTIFACT_DIR ...] [--repeats 5]

Prints the median seconds of each and the difference; docs/reliability.md quotes it.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

from convbert_edge.runtime.session import load
from convbert_edge.runtime.verify import verify_artifact


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("artifacts", nargs="+", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, median of {args.repeats}")
    print(f"{'artifact':<40} {'what':<8} {'in-process s':>13} {'guarded s':>10} {'extra s':>8}")
    for artifact in args.artifacts:
        load(artifact, isolate=False)  # warm the imports of this process once
        for what, fn in (
            ("load", lambda a=artifact, i=False: load(a, isolate=i)),
            ("verify", lambda a=artifact, i=False: verify_artifact(a, isolate=i)),
        ):
            plain = _median_seconds(lambda f=fn: f(i=False), args.repeats)
            guarded = _median_seconds(lambda f=fn: f(i=True), args.repeats)
            print(
                f"{artifact.name:<40} {what:<8} {plain:>13.2f} {guarded:>10.2f} "
                f"{guarded - plain:>8.2f}"
            )


if __name__ == "__main__":
    main()
