"""What the report measured, as data: one VariantResult per row, one Section per model,
and the acceptance ratios computed from the rows of the same run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .budget import ACCEPTANCE_THREADS, SELECTION_BUDGET, SPEED_TARGETS
from .gemm import GemmLimit
from .reuse import ExportReuse
from .timing import LatencyStats
from .workers import MemoryResult


@dataclass
class VariantResult:
    """One row. ``reason`` says why a variant is not available; scores are 0-1."""

    name: str
    label: str
    family: str
    runtime: str
    precision: str
    available: bool = True
    reason: str = ""
    path: str | None = None
    size_mb: float | None = None
    score: float | None = None
    drop_points: float | None = None
    agreement: float | None = None
    meets_budget: bool | None = None
    latency: dict[int, LatencyStats] = field(default_factory=dict)
    memory: MemoryResult | None = None
    memory_error: str | None = None
    gemm_fraction: dict[int, float] = field(default_factory=dict)

    @property
    def is_int8(self) -> bool:
        return "int8" in self.precision

    def median(self, threads: int) -> float | None:
        stats = self.latency.get(threads)
        return stats.median if stats else None

    def as_dict(self) -> dict:
        d = asdict(self)
        d["latency"] = {str(t): s.as_dict() for t, s in self.latency.items()}
        d["memory"] = self.memory.as_dict() if self.memory else None
        d["gemm_fraction"] = {str(t): f for t, f in self.gemm_fraction.items()}
        return d


@dataclass
class Ratio:
    """One acceptance ratio (budget.SpeedTarget): ``value`` against ``limit``.

    ``condition_met`` is False when a condition besides the ratio failed (the
    agreement a SpeedTarget asks for); ``note`` says which. ``ceiling`` (for "ours is
    faster" targets, where the GEMM limit was measured) is the best ratio this CPU allows:
    see ``gemm_ceiling``.
    """

    name: str
    description: str
    limit: float
    ours: str | None
    reference: str | None
    value: float | None
    note: str = ""
    at_most: bool = False
    condition_met: bool = True
    ceiling: float | None = None

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "NOT MEASURED"
        within = self.value <= self.limit if self.at_most else self.value >= self.limit
        return "PASS" if within and self.condition_met else "MISS"

    @property
    def needed(self) -> str:
        return f"{'≤' if self.at_most else '≥'}{self.limit:g}x"


@dataclass
class Section:
    """Everything measured for one model (the checkpoint, or a random-weight shape)."""

    title: str
    model: str
    task: str
    seq_len: int
    flops: float
    largest_linear: tuple[int, int, int]
    variants: list[VariantResult]
    metric: str | None = None
    eval_set: str | None = None
    eval_examples: int = 0
    reference: str | None = None
    gemm: dict[int, dict[str, GemmLimit]] = field(default_factory=dict)
    ratios: list[Ratio] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reuse: list[ExportReuse] = field(default_factory=list)

    def get(self, name: str) -> VariantResult | None:
        return next((v for v in self.variants if v.name == name and v.available), None)

    def as_dict(self) -> dict:
        return {
            **{k: v for k, v in asdict(self).items() if k not in ("variants", "gemm", "ratios")},
            "variants": [v.as_dict() for v in self.variants],
            "gemm": {
                str(t): {r: g.as_dict() for r, g in g_.items()} for t, g_ in self.gemm.items()
            },
            "ratios": [{**asdict(r), "verdict": r.verdict} for r in self.ratios],
        }


def fastest_int8_in_budget(section: Section, threads: int) -> VariantResult | None:
    """Our fastest int8 variant that meets the budget (any int8 of ours when accuracy was
    not measured, as for random-weight shapes)."""
    measured = section.metric is not None
    candidates = [
        v
        for v in section.variants
        if v.available
        and v.family == "ours"
        and v.is_int8
        and v.median(threads) is not None
        and (v.meets_budget if measured else True)
    ]
    return min(candidates, key=lambda v: v.median(threads), default=None)


def gemm_ceiling(
    section: Section, ours: VariantResult, reference_ms: float, threads: int
) -> tuple[float, float, float] | None:
    """(ceiling, floor ms, GOP/s): the ratio ``ours`` would reach against ``reference_ms``
    if the model's FLOPs all ran at its runtime's int8 GEMM speed on this CPU and nothing
    else took time, that time, and that GEMM speed. No int8 model of this shape beats
    the ceiling in that runtime here: on a CPU whose int8 GEMMs run no faster than fp32
    ones (AVX2 without VNNI), a "5x faster than fp32" line is out of reach whatever the
    rest of the graph does. None
    when the GEMM limit was not measured for that runtime and thread count.
    """
    limit = section.gemm.get(threads, {}).get(ours.runtime)
    if limit is None or not limit.gops:
        return None
    floor_ms = section.flops / limit.gops / 1e6
    return reference_ms / floor_ms, floor_ms, limit.gops


def acceptance_ratios(section: Section, threads: int = ACCEPTANCE_THREADS) -> list[Ratio]:
    """The ratios of budget.SPEED_TARGETS, from the medians of this section at ``threads``."""
    best = fastest_int8_in_budget(section, threads)
    peers = [
        v
        for v in section.variants
        if v.available and v.family == "peer" and v.median(threads) is not None
    ]
    fastest_peer = min(peers, key=lambda v: v.median(threads), default=None)
    pairs = {
        "vs_transformers_eager": (best, section.get("transformers-eager")),
        "vs_fastest_peer": (best, fastest_peer),
        "executorch_vs_transformers_lowered": (
            section.get("executorch-int8"),
            section.get("peer-executorch-int8"),
        ),
        "integer_only_vs_fastest": (section.get("tflite-int8"), best),
        "executorch_vs_fastest": (section.get("executorch-int8"), best),
    }
    budget_note = (
        f"within budget ({SELECTION_BUDGET.describe()})"
        if section.metric is not None
        else "accuracy not measured (random weights): any int8 of ours"
    )
    out = []
    for target in SPEED_TARGETS:
        ours, ref = pairs[target.name]
        value = bound = None
        if ours is not None and ref is not None and ours.median(threads) and ref.median(threads):
            ours_ms, ref_ms = ours.median(threads), ref.median(threads)
            value = ours_ms / ref_ms if target.at_most else ref_ms / ours_ms
            if not target.at_most:
                bound = gemm_ceiling(section, ours, ref_ms, threads)
        note = "" if target.name == "executorch_vs_transformers_lowered" else budget_note
        condition_met = True
        agreement = ours.agreement if ours is not None else None
        if target.min_agreement is not None and agreement is not None:
            condition_met = agreement >= target.min_agreement
            note = (
                f"agreement with fp32 {agreement:.1%} (needs ≥ "
                f"{target.min_agreement:.1%}); reference {budget_note}"
            )
        if ours is None:
            note = "no variant of ours qualifies" + (f" ({budget_note})" if note else "")
        elif ref is None:
            note = "the reference was not measured"
        if bound is not None and bound[0] < target.limit:
            ceiling, floor_ms, gops = bound
            note += (
                f"{'; ' if note else ''}out of reach on this CPU: at {ours.runtime}'s int8 "
                f"GEMM speed here ({gops:.0f} GOP/s) the model's "
                f"{section.flops / 1e9:.2f} GFLOP alone take {floor_ms:.2f} ms, "
                f"at most {ceiling:.2f}x"
            )
        out.append(
            Ratio(
                target.name,
                target.description,
                target.limit,
                ours.name if ours else None,
                ref.name if ref else None,
                value,
                note,
                at_most=target.at_most,
                condition_met=condition_met,
                ceiling=bound[0] if bound else None,
            )
        )
    return out
