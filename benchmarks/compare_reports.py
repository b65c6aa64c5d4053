"""Two or more report.json files side by side: accuracy, agreement and median latency of
every variant, the ratio of each run's medians to the first run's, and the verdicts.

    python benchmarks/compare_reports.py OLD/report.json NEW/report.json [NEW2/report.json ...]

Made to answer "did this change move the report's figures beyond run-to-run noise?": run
the report of the old commit and of the new one back to back on the same quiet machine,
then the new one again; the new-vs-new spread is the noise the old-vs-new spread is
judged against. Latency medians of separate runs are only comparable that way: absolute
figures drift with the machine (docs/report.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _variants(path: Path) -> tuple[dict[str, dict], list[dict]]:
    """name -> variant record of the report's first section (the default model), and its
    verdict rows; unavailable variants are left out."""
    try:
        report = json.loads(path.read_text())
        section = report["sections"][0]
    except (OSError, ValueError, KeyError, IndexError) as error:
        raise SystemExit(
            f"{path}: not a report.json written by convbert_edge.report ({error})"
        ) from None
    variants = {v["name"]: v for v in section["variants"] if v.get("available")}
    return variants, section.get("ratios", [])


def _median(variant: dict, threads: str) -> float | None:
    return variant.get("latency", {}).get(threads, {}).get("median")


def compare(paths: list[Path]) -> str:
    """The side-by-side table as markdown."""
    runs = [_variants(p) for p in paths]
    first = runs[0][0]
    labels = [f"run {i + 1}" for i in range(len(paths))]
    threads = sorted({t for v in first.values() for t in v.get("latency", {})})
    lines = [f"{label}: {path}" for label, path in zip(labels, paths, strict=True)] + [""]
    head = ["variant", "accuracy % / agreement %"]
    for t in threads:
        head += [f"median ms {t}t ({', '.join(labels)})", f"vs run 1, {t}t"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in first:
        present = [variants.get(name) for variants, _ in runs]
        scores = " ; ".join(
            "–" if v is None else f"{100 * v['score']:.2f} / {100 * v['agreement']:.1f}"
            for v in present
        )
        row = [name, scores]
        for t in threads:
            medians = [None if v is None else _median(v, t) for v in present]
            base = medians[0]
            row.append(" ; ".join("–" if m is None else f"{m:.2f}" for m in medians))
            row.append(
                " ; ".join("–" if m is None or not base else f"{m / base:.2f}" for m in medians[1:])
            )
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    for label, (_, ratios) in zip(labels, runs, strict=True):
        verdicts = ", ".join(f"{r['name']} {r['value']:.2f}x {r['verdict']}" for r in ratios)
        lines.append(f"{label} verdicts: {verdicts}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "reports", nargs="+", type=Path, help="report.json files; the first is the base"
    )
    args = parser.parse_args(argv)
    if len(args.reports) < 2:
        parser.error("give at least two report.json files")
    print(compare(args.reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
