"""The accuracy budget and the speed targets the report checks, in one place.

The budget is issue 6's: a post-training int8 variant keeps its accuracy when it drops at
most 1.0 point against our fp32 model and agrees with fp32's predictions on at least 97%
of the held-out examples; a QAT variant must drop at most 0.5 point. The speed targets
are issue 7's acceptance ratios at seq 128, batch 1, 2 threads.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AccuracyBudget:
    """How much task score a quantized variant may lose against our fp32 model.

    Args:
        max_drop: points of the task metric (accuracy in %, or F1 x 100).
        min_agreement: share of examples (0-1) whose prediction matches fp32's.
    """

    max_drop: float
    min_agreement: float

    def met(self, drop: float, agreement: float) -> bool:
        return drop <= self.max_drop and agreement >= self.min_agreement

    def describe(self) -> str:
        return f"drop ≤ {self.max_drop:g} point, agreement ≥ {self.min_agreement:.0%}"


BUDGETS: dict[str, AccuracyBudget] = {
    "ptq": AccuracyBudget(max_drop=1.0, min_agreement=0.97),
    "qat": AccuracyBudget(max_drop=0.5, min_agreement=0.97),
}

# The budget a variant must meet to be "the fastest int8 variant that meets the budget".
SELECTION_BUDGET = BUDGETS["ptq"]


@dataclass(frozen=True)
class SpeedTarget:
    """One acceptance ratio of two medians of the same run.

    By default ``reference latency / ours >= limit``: ours is at least ``limit`` times
    faster. With ``at_most``, ``ours / reference latency <= limit``: ours takes at most
    ``limit`` times the reference's time (a variant held close to our fastest one). With
    ``min_agreement``, ours must also agree with fp32 that often: the time limit alone
    would pass a model that is fast because it is wrong.
    """

    name: str
    description: str
    limit: float
    at_most: bool = False
    min_agreement: float | None = None


SPEED_TARGETS: tuple[SpeedTarget, ...] = (
    SpeedTarget("vs_transformers_eager", "fastest int8 in budget vs transformers eager fp32", 5.0),
    SpeedTarget("vs_fastest_peer", "fastest int8 in budget vs the fastest peer path", 1.3),
    SpeedTarget(
        "executorch_vs_transformers_lowered",
        "our ExecuTorch int8 vs ExecuTorch int8 on transformers' model",
        5.0,
    ),
    # Issue 15: the integer-only model (what NPU/DSP delegates need) and the ExecuTorch
    # program stay close to the fastest int8 artifact on a CPU.
    SpeedTarget(
        "integer_only_vs_fastest",
        "integer-only TFLite int8, time over the fastest int8 in budget",
        2.0,
        at_most=True,
        min_agreement=0.985,
    ),
    SpeedTarget(
        "executorch_vs_fastest",
        "our ExecuTorch int8, time over the fastest int8 in budget",
        1.1,
        at_most=True,
    ),
)

# The setting the acceptance ratios are read at.
ACCEPTANCE_THREADS = 2
