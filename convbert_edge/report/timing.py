"""Round-robin latency: every round runs each variant once, in a freshly shuffled order.

On a shared machine the load drifts while a benchmark runs; taking one run of every
variant per round, in an order that changes every round, makes the drift hit all variants
alike, so the ratios between them hold even when the absolute times move.

A call that returns a float has timed itself (a ``Worker`` measuring inside its own
process, free of the pipe's round trip); that float, in milliseconds, is taken as is.
Any other call is timed here.

    times = round_robin({"a": run_a, "b": run_b}, runs=50, warmup=5)
    stats = {name: LatencyStats.of(ms) for name, ms in times.items()}
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

Clock = Callable[[], float]
Shuffle = Callable[[list[str]], None]


def round_robin(
    calls: dict[str, Callable[[], object]],
    runs: int,
    warmup: int = 5,
    *,
    clock: Clock = time.perf_counter,
    shuffle: Shuffle | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, list[float]]:
    """Milliseconds of each call over ``runs`` rounds, after ``warmup`` untimed rounds.

    Args:
        calls: name -> a zero-argument callable doing one inference; if it returns a
            float, that is its own measurement in milliseconds.
        clock: seconds, monotonic (injected for tests).
        shuffle: reorders a list in place each round; default a seeded random.shuffle.
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    if shuffle is None:
        shuffle = random.Random(0).shuffle
    names = list(calls)
    for _ in range(warmup):
        for name in names:
            calls[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(runs):
        order = list(names)
        shuffle(order)
        for name in order:
            start = clock()
            own = calls[name]()
            elapsed = (clock() - start) * 1e3
            times[name].append(own if isinstance(own, float) else elapsed)
        if log is not None and (r + 1) % max(runs // 4, 1) == 0 and r + 1 < runs:
            log(f"      round {r + 1}/{runs}")
    return times


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass(frozen=True)
class LatencyStats:
    """Summary of one variant's run times in milliseconds.

    The median is the figure compared; p90 shows the tail; the interquartile range and
    min/max show how much the machine moved under the measurement. ``samples`` keeps
    every round's time in round order (report.json has them), so that how many rounds a
    verdict needs can be judged afterwards (benchmarks/report_rounds.py).
    """

    runs: int
    median: float
    p90: float
    p25: float
    p75: float
    min: float
    max: float
    samples: tuple[float, ...] = field(default=(), repr=False)

    @classmethod
    def of(cls, ms: Sequence[float]) -> LatencyStats:
        return cls(
            runs=len(ms),
            median=statistics.median(ms),
            p90=percentile(ms, 90),
            p25=percentile(ms, 25),
            p75=percentile(ms, 75),
            min=min(ms),
            max=max(ms),
            samples=tuple(ms),
        )

    @property
    def iqr(self) -> float:
        return self.p75 - self.p25

    def as_dict(self) -> dict:
        return {**asdict(self), "iqr": self.iqr}
