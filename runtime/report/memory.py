"""Load time and peak memory of one variant, measured in a child process of its own.

A variant's peak resident memory only means something in a process that holds nothing
else, so each variant is opened in a fresh (spawned) child: it imports the runtime it
needs, notes its peak RSS, loads the model (timed), runs a few calls, and reports
its peak RSS (VmHWM). The peak above the after-import baseline is the model's.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import resource
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .runners import RunnerSpec, open_runner, runtime_modules


@dataclass(frozen=True)
class MemoryResult:
    """Peak RSS of the child (MB), its baseline after imports, and the load time (s)."""

    peak_mb: float
    baseline_mb: float
    load_seconds: float

    @property
    def model_mb(self) -> float:
        return self.peak_mb - self.baseline_mb

    def as_dict(self) -> dict:
        return {**asdict(self), "model_mb": self.model_mb}


def _peak_mb() -> float:
    """This process's peak RSS. Linux's VmHWM first: ru_maxrss survives fork + exec, so a
    spawned child would report its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


def measure_here(
    spec: RunnerSpec, call: dict[str, np.ndarray], threads: int, runs: int = 3
) -> MemoryResult:
    """The measurement itself; meaningful only in a process that has done nothing else."""
    for module in runtime_modules(spec):
        importlib.import_module(module)
    baseline = _peak_mb()
    start = time.perf_counter()
    run = open_runner(spec, threads)
    load_seconds = time.perf_counter() - start
    for _ in range(runs):
        run(call)
    return MemoryResult(_peak_mb(), baseline, load_seconds)


def _child(spec, call, threads, runs, conn) -> None:
    try:
        conn.send(("ok", measure_here(spec, call, threads, runs)))
    except BaseException as err:  # report anything to the parent instead of dying silently
        conn.send(("error", f"{type(err).__name__}: {err}"))
    finally:
        conn.close()


def measure_in_child(
    spec: RunnerSpec,
    call: dict[str, np.ndarray],
    threads: int = 1,
    runs: int = 3,
    timeout: float = 600.0,
) -> MemoryResult:
    """Open and run ``spec`` in a spawned child; its peak RSS and load time.

    Raises RuntimeError with the child's message when it fails or dies (some runtimes
    abort the process on a bad model instead of raising).
    """
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(spec, call, threads, runs, child), daemon=True)
    process.start()
    child.close()
    try:
        if not parent.poll(timeout):
            process.kill()
            raise RuntimeError(f"the memory child for {spec.path} took over {timeout:.0f} s")
        status, value = parent.recv()
    except EOFError:
        process.join(5)
        raise RuntimeError(
            f"the memory child for {spec.path} died (exit code {process.exitcode})"
        ) from None
    finally:
        process.join(30)
        parent.close()
    if status != "ok":
        raise RuntimeError(value)
    return value
