"""Numbered progress for a straight line of stages: '[2/7] tokenizing ...', then
'      done in 0.4 s'.

The numbers come from a declared table of stages (the pipeline's ``STAGES``), not from
a count kept by hand. A stage whose ``when`` is false for the run's options is skipped:
not run, not counted, its result None. Calling stages in another order than the
table's, or leaving one out, is an error, so the table and the code that calls it
cannot drift apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

# the running stage's log, so code deep inside a stage can time its parts (substep)
_stage_log: ContextVar[Callable[[str], None] | None] = ContextVar("stage_log", default=None)


@contextmanager
def substep(name: str) -> Iterator[None]:
    """Times a part of the running stage and prints '      NAME in X s' under it, before
    the stage's own 'done in' line; outside a stage it prints nothing.

    Example:
        >>> with substep("calibration"):  # '      calibration in 4.2 s'
        ...     run_calibration()
    """
    start = time.perf_counter()
    yield
    log = _stage_log.get()
    if log is not None:
        log(f"      {name} in {time.perf_counter() - start:.1f} s")


def _always(options: Any) -> bool:
    return True


@dataclass(frozen=True)
class Stage:
    """One numbered stage.

    Args:
        run: the stage function.
        title: its progress line, or a function of ``run``'s arguments that gives it.
        when: whether the stage runs for the options (default: always).
    """

    run: Callable[..., Any]
    title: str | Callable[..., str]
    when: Callable[[Any], bool] = _always


class Progress:
    """Runs the stages of ``stages`` in order, each with '[k/n] title ...' and its duration.

    Args:
        stages: the table, in the order the stages are called.
        options: what each stage's ``when`` is asked about.
        log: receives the progress lines.

    Example:
        >>> with Progress(STAGES, options, print) as step:
        ...     source = step(resolve, options, print)  # [1/7] resolving the checkpoint ...
    """

    def __init__(self, stages: Sequence[Stage], options: Any, log: Callable[[str], None]):
        self.stages = tuple(stages)
        self.runs = tuple(stage.when(options) for stage in self.stages)
        self.log = log
        self._next = 0  # index of the next stage in the table
        self._number = 0  # k of the last '[k/n]' line

    @property
    def total(self) -> int:
        """n: the stages that run for these options."""
        return sum(self.runs)

    def __call__(self, run: Callable[..., Any], *args: Any) -> Any:
        """``run(*args)`` if the table runs it here, else None; refused out of order."""
        if self._next == len(self.stages) or self.stages[self._next].run is not run:
            expected = (
                self.stages[self._next].run.__name__
                if self._next < len(self.stages)
                else "no more stages"
            )
            raise RuntimeError(
                f"stage {run.__name__} was called where the stage table has {expected}"
            )
        stage, runs = self.stages[self._next], self.runs[self._next]
        self._next += 1
        if not runs:
            return None
        self._number += 1
        title = stage.title if isinstance(stage.title, str) else stage.title(*args)
        self.log(f"[{self._number}/{self.total}] {title} ...")
        start = time.perf_counter()
        token = _stage_log.set(self.log)
        try:
            result = run(*args)
        finally:
            _stage_log.reset(token)
        self.log(f"      done in {time.perf_counter() - start:.1f} s")
        return result

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, error_type, *_) -> None:
        if error_type is None and self._next < len(self.stages):
            missing = ", ".join(s.run.__name__ for s in self.stages[self._next :])
            raise RuntimeError(f"stages of the table were not called: {missing}")
