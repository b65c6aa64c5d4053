"""Each measured thing in a process of its own: latency without the other runtimes'
threads, and a peak memory that is the model's alone.

Every runtime keeps a thread pool. In one shared process the pools of the runtimes just
called keep spinning while the next one runs, and some pool sizes are process-wide
(ExecuTorch has one threadpool per process). On this two-vCPU machine that made every
variant slower at two threads than at one: conv-bert-small's TFLite int8 took 13.1 ms at
two threads in the shared process and 6.1 ms alone. So each variant (and each GEMM probe)
lives in a spawned worker that imports only its runtime, opens the model once, times its
own calls (each after untimed ones, see ``settling_for``) and reports its peak RSS. The
parent asks one worker at a time, so round-robin ordering still spreads machine drift over
all variants, and idle workers wait on a pipe.

    with Worker(open_variant, (spec, threads, call), modules=runtime_modules(spec)) as run:
        ms = run()             # one call, timed inside the worker, in milliseconds
        run.memory()           # MemoryResult: baseline after imports, load time, peak
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .runners import RunnerSpec, open_runner, runtime_modules

Factory = Callable[..., Callable[[], object]]


@dataclass(frozen=True)
class MemoryResult:
    """Peak RSS of the worker (MB), its baseline after imports, and the load time (s)."""

    peak_mb: float
    baseline_mb: float
    load_seconds: float

    @property
    def model_mb(self) -> float:
        return self.peak_mb - self.baseline_mb

    def as_dict(self) -> dict:
        return {**asdict(self), "model_mb": self.model_mb}


def peak_mb() -> float:
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


def open_variant(spec: RunnerSpec, threads: int, call: dict[str, np.ndarray]):
    """A worker factory: ``spec`` opened with ``threads``, as a zero-argument call."""
    run = open_runner(spec, threads)
    return lambda: run(call)


def _library_stdout_to_stderr() -> None:
    """Point this process's stdout (descriptor 1, so C++ prints too) at its stderr.

    A worker talks to its parent only through the pipe, so whatever reaches its stdout is a
    library's: Keras prints the TensorSpec list of every model it exports (the TFLite GEMM
    probe converts one). Stdout is inherited from the parent, i.e. the terminal between the
    report's progress lines; stderr is where the CLI sends library output (its log file,
    cli.run_command), or the terminal's stderr with --verbose.
    """
    sys.stdout.flush()
    os.dup2(2, 1)


def _serve(factory: Factory, args: tuple, modules: tuple[str, ...], conn) -> None:
    """The worker's loop: open, report ready, then answer "run" / "memory" until "close"."""
    _library_stdout_to_stderr()
    try:
        for module in modules:
            importlib.import_module(module)
        baseline = peak_mb()
        start = time.perf_counter()
        call = factory(*args)
        conn.send(("ready", (baseline, time.perf_counter() - start)))
        while True:
            try:
                request = conn.recv()
            except EOFError:
                return
            if isinstance(request, tuple) and request[0] == "run":
                _, calls, seconds = request
                start = time.perf_counter()
                done = 0
                while done < calls or time.perf_counter() - start < seconds:
                    call()
                    done += 1
                start = time.perf_counter()
                call()
                conn.send(("ok", (time.perf_counter() - start) * 1e3))
            elif request == "memory":
                conn.send(("ok", peak_mb()))
            elif isinstance(request, tuple) and request[0] == "open":
                call = None  # let the old model go before the new one loads
                start = time.perf_counter()
                call = factory(*request[1])
                conn.send(("ok", time.perf_counter() - start))
            else:
                return
    except BaseException as err:  # report anything to the parent instead of dying silently
        try:
            conn.send(("error", f"{type(err).__name__}: {err}"))
        except (BrokenPipeError, OSError):
            pass
    finally:
        conn.close()


class Worker:
    """A spawned process holding one opened model (or probe); calling it runs it once.

    Args:
        factory: importable function; ``factory(*args)`` runs in the worker and returns
            the zero-argument call to time.
        modules: imported before the baseline memory is taken, so the peak above the
            baseline is the model's and not its runtime's.
        name: for error messages.
        settle / settle_seconds: before each timed call, untimed calls until there have
            been at least ``settle`` of them and ``settle_seconds`` have passed. Right
            after another worker ran, its thread pools may still spin on the cores (ONNX
            Runtime's and PyTorch's OpenMP pools spin for a while after each call), and
            this worker's caches and threads are cold. See ``settling_for``.
        timeout: seconds allowed for opening, and for each call.

    Raises RuntimeError with the worker's message when it fails or dies (some runtimes
    abort the process on a bad model instead of raising).
    """

    def __init__(
        self,
        factory: Factory,
        args: tuple = (),
        *,
        modules: tuple[str, ...] = (),
        name: str = "worker",
        settle: int = 3,
        settle_seconds: float = 0.0,
        timeout: float = 600.0,
    ):
        self.name, self.timeout = name, timeout
        self.settle, self.settle_seconds = settle, settle_seconds
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe(duplex=True)
        self._process = ctx.Process(
            target=_serve, args=(factory, args, modules, child), daemon=True
        )
        self._process.start()
        child.close()
        try:
            self._baseline, self._load_seconds = self._receive("opening")
        except BaseException:
            self.close()
            raise

    def _receive(self, doing: str):
        try:
            if not self._conn.poll(self.timeout):
                raise RuntimeError(f"{self.name}: {doing} took over {self.timeout:.0f} s")
            status, value = self._conn.recv()
        except (EOFError, ConnectionResetError):
            self._process.join(5)
            raise RuntimeError(
                f"{self.name}: the worker died while {doing} (exit code {self._process.exitcode})"
            ) from None
        if status == "error":
            raise RuntimeError(f"{self.name}: {value}")
        return value

    def __call__(self) -> float:
        """Run once; the milliseconds the call took, measured inside the worker."""
        self._conn.send(("run", self.settle, self.settle_seconds))
        return self._receive("running")

    def reopen(self, *args, settle: int | None = None, settle_seconds: float | None = None):
        """Open the model again in this worker as ``factory(*args)`` (e.g. at another thread
        count), dropping the old one, optionally with new settling; the seconds it took.
        Spawning a worker costs seconds of imports; reopening costs the load alone.
        ``memory()`` keeps describing the first opening."""
        if settle is not None:
            self.settle = settle
        if settle_seconds is not None:
            self.settle_seconds = settle_seconds
        self._conn.send(("open", args))
        return self._receive("reopening")

    def memory(self) -> MemoryResult:
        self._conn.send("memory")
        return MemoryResult(self._receive("reading its memory"), self._baseline, self._load_seconds)

    def close(self) -> None:
        if self._process.is_alive():
            try:
                self._conn.send("close")
            except (BrokenPipeError, OSError):
                pass
            self._process.join(30)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)
        self._conn.close()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def settling_for(threads: int) -> dict[str, float]:
    """Worker settling that gives steady-state times at ``threads``, as measured here.

    On the default model at two threads, with transformers eager, ONNX Runtime and two
    TFLite models in four workers (20 rounds each, medians): with three settling calls
    our TFLite int8 took 3.3-3.5 ms and eager 16-20 ms, the same as our model at one
    thread, because the previous worker's pools were still spinning on the second core;
    with 0.1 s of settling, twice, 2.00 and 2.02 ms, and eager 12.3 ms, what each
    measures alone. At one thread the other core absorbs the spinning (interquartile
    ranges of 0.1-0.2 ms without it), so three calls suffice.
    """
    return {"settle": 3, "settle_seconds": 0.1 if threads > 1 else 0.0}


def variant_worker(spec: RunnerSpec, threads: int, call: dict[str, np.ndarray], **kwargs) -> Worker:
    """A worker holding ``spec`` opened with ``threads``, running ``call``, settling as
    ``settling_for(threads)`` unless told otherwise."""
    return Worker(
        open_variant,
        (spec, threads, call),
        modules=runtime_modules(spec),
        name=Path(spec.path).name,
        **{**settling_for(threads), **kwargs},
    )
