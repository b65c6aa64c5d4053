"""What one report run is asked to do: ``ReportOptions``, and the options of a mode.

The CLI starts from a mode (modes.py) and lays the flags the user gave over it:

    options = ReportOptions.for_mode("quick")                  # what `make demo` runs
    options = ReportOptions.for_mode("full", threads=(2,))     # the sweep, 2 threads only
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from convbert_edge.cache import default_cache_dir

from .modes import mode_named


@dataclass
class ReportOptions:
    """The report CLI's flags, one field each. The defaults are the full sweep's; the
    CLI starts from ``for_mode``.

    Args:
        model: checkpoint directory or hub id; None: the embedded default model.
        variants: names from VARIANTS (None: all).
        out: where report.md/json/png go (default reports/<model>).
        threads: thread counts latency is measured at.
        shapes: presets (conv-bert-small, conv-bert-base) measured with random weights
            for latency and the GEMM-limit fraction.
        eval_limit: score only the first N held-out examples (None: the whole split).
        calibration: calibration texts of the builds (a data set name or a UTF-8 file with
            one text per line, as export's --calibration); None: movie_reviews.
        memory: report each variant's load time and peak memory (from its worker process).
        mode: "quick" or "full" (modes.py); the report says which one made it.
        gemm_limit: measure each runtime's int8 GEMM speed.
        reuse_exports: measure the artifacts the export CLI wrote at its default
            directories when their manifests match (reuse.py).
        score_references: score transformers eager and the peers too; off, only our
            rows and our fp32 reference are scored (all the budget verdict reads).
    """

    model: str | None = None
    task: str | None = None
    variants: list[str] | None = None
    out: Path | None = None
    runs: int = 50
    warmup: int = 5
    threads: tuple[int, ...] = (1, 2)
    seq_len: int = 128
    shapes: tuple[str, ...] = ()
    skip_peers: bool = False
    cache_dir: Path = field(default_factory=default_cache_dir)
    rebuild: bool = False
    eval_limit: int | None = None
    dataset: str | None = None
    calibration: str | None = None
    calibration_samples: int = 256
    memory: bool = True
    mode: str = "full"
    gemm_limit: bool = True
    reuse_exports: bool = False
    score_references: bool = True

    def describe(self) -> str:
        """The mode and what it measured, for the log and report.md."""
        rows = "every variant" if self.variants is None else f"{len(self.variants)} variants"
        gemm_on_miss = "int8 GEMM limit probed only if a speed line misses"
        return (
            f"{self.mode}: {rows} at {', '.join(map(str, self.threads))} thread(s), "
            f"{self.runs} rounds; exported artifacts "
            f"{'measured where their manifests match' if self.reuse_exports else 'not reused'}; "
            f"{'every row' if self.score_references else 'our rows only'} scored; "
            + ("int8 GEMM limit measured" if self.gemm_limit else gemm_on_miss)
        )

    @classmethod
    def for_mode(
        cls,
        mode: str,
        *,
        variants: list[str] | None = None,
        threads: tuple[int, ...] | None = None,
        runs: int | None = None,
        **given,
    ) -> ReportOptions:
        """The options of ``mode``, with what the user chose on top: ``variants``,
        ``threads`` and ``runs`` replace the mode's own when given (not None); --rebuild
        (``rebuild=True``) builds everything, so no export is reused either."""
        m = mode_named(mode)
        return cls(
            variants=variants if variants is not None else m.variant_names(),
            threads=threads or m.threads,
            runs=runs or m.runs,
            mode=m.name,
            gemm_limit=m.gemm_limit,
            reuse_exports=m.reuse_exports and not given.get("rebuild", False),
            score_references=m.score_references,
            **given,
        )
