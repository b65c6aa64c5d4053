"""The report's two modes: quick (the CLI's default, what `make demo` runs) and full (--full).

quick gives the verdicts in minutes. It measures the rows the five verdicts read
(budget.SPEED_TARGETS) and nothing else: our fp32 reference, the two int8 artifacts
`make demo` exports (taken as the exports wrote them when their manifests match, see
reuse.py), the integer-only TFLite model (built here), transformers eager, and the peers
the "fastest peer" and ExecuTorch verdicts compare against, at the verdicts' thread count
only; the GEMM-limit probe runs only when an "ours is faster" line misses, for the
runtime of ours in it, so that the verdict says whether this CPU allows the line at all
(results.gemm_ceiling).
full is the sweep: every variant (fp16, dynamic int8, the integer-only TFLite model,
ONNX, QAT on both targets, ...), 1 and 2 threads, 50 rounds and the int8 GEMM limit of
each runtime, all built by the report itself.

    mode = MODES["quick"]
    mode.variant_names()        # ['ours-eager', 'tflite-int8-linear', ...]
"""

from __future__ import annotations

from dataclasses import dataclass

from .budget import ACCEPTANCE_THREADS
from .reuse import shipped_variant
from .variants import VARIANTS

# `make demo`'s two exports, whose artifacts the quick report measures.
DEMO_TARGETS = ("tflite", "executorch")

# The verdicts' references besides the shipped artifacts. Every peer that can be the
# fastest one is here; peer-executorch-fp32 is left to --full: transformers' model lowered
# to ExecuTorch keeps its unfold as gather ops outside XNNPACK (28.8 ms in fp32 against
# 2.8 for litert-torch on the default model, docs/report), so it is never the fastest
# peer, and peer-executorch-int8 (verdict 3's reference) is measured anyway.
QUICK_REFERENCES = (
    "transformers-eager",
    "peer-litert-torch-int8",
    "peer-onnx-dynamic-int8",
    "peer-executorch-int8",
)


@dataclass(frozen=True)
class Mode:
    """What one mode measures; the CLI's --variants, --threads and --runs override it.

    Args:
        variants: report rows (None: every variant of VARIANTS).
        threads: thread counts latency is measured at.
        runs: timed round-robin rounds.
        gemm_limit: measure each runtime's int8 GEMM speed (the "GEMM frac" columns and
            the verdicts' ceiling); without it, only a missed speed line's runtime is probed.
        reuse_exports: measure `make demo`'s exported artifacts in place when their
            manifests match (reuse.py) instead of building them again.
        score_references: score transformers eager and the peers on the held-out split
            too (the verdicts only need our rows' drop and agreement).
        minutes: roughly how long it takes on the default model here, from an empty
            cache (exports excluded), for --help and the report.
    """

    name: str
    variants: tuple[str, ...] | None
    threads: tuple[int, ...]
    runs: int
    gemm_limit: bool
    reuse_exports: bool
    score_references: bool
    minutes: str

    def variant_names(self) -> list[str]:
        return list(self.variants) if self.variants is not None else list(VARIANTS)


QUICK = Mode(
    "quick",
    # tflite-int8, the integer-only model, is the one row of ours besides the shipped
    # artifacts: a verdict holds it to the fastest int8 (budget.SPEED_TARGETS).
    variants=(
        "ours-eager",
        *(shipped_variant(t) for t in DEMO_TARGETS),
        "tflite-int8",
        *QUICK_REFERENCES,
    ),
    threads=(ACCEPTANCE_THREADS,),
    # As many rounds as the sweep: with seven workers a round costs about 0.75 s, so 50
    # take ~40 s of a ~3 minute report. In one 150-round quick run on a quiet machine,
    # windows of 20 rounds read each verdict ratio within 8.5-11% of the whole run, of 50
    # within 2.5-6.5%; with two other jobs on the cores, 23% and 3% for the peer ratio.
    # The verdicts' margins are 10-15% (docs/report), so fewer rounds would flip them on
    # noise alone (benchmarks/report_rounds.py reads this from any report.json).
    runs=50,
    gemm_limit=False,
    reuse_exports=True,
    score_references=False,
    minutes="about 4",
)

FULL = Mode(
    "full",
    variants=None,
    threads=(1, 2),
    runs=50,
    gemm_limit=True,
    reuse_exports=False,
    score_references=True,
    minutes="15-30",
)

MODES: dict[str, Mode] = {m.name: m for m in (QUICK, FULL)}


def mode_named(name: str) -> Mode:
    if name not in MODES:
        raise ValueError(f"unknown report mode {name!r}; valid: {', '.join(MODES)}")
    return MODES[name]
