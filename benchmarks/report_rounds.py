"""How many round-robin rounds the report's verdicts need: the verdict ratios of windows of
k consecutive rounds, read from a report.json (its latency samples, kept in round order).

    python -m convbert_edge.report --runs 150 --out /tmp/rounds     # one long quick run
    python benchmarks/report_rounds.py /tmp/rounds/report.json [--windows 10,20,30,50]

For each window size k the run's rounds are cut into consecutive windows of k rounds (the
same rounds for every row, as one report of k rounds would see them), the three verdicts
of budget.SPEED_TARGETS are computed from each window's medians exactly as the report
computes them (results.acceptance_ratios), and the spread of each ratio over the windows
is printed with how often its verdict differed from the whole run's. A k whose ratios stay
within a few percent of the whole run's, with the same verdicts, is enough rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from convbert_edge.report.budget import ACCEPTANCE_THREADS
from convbert_edge.report.results import Section, VariantResult, acceptance_ratios
from convbert_edge.report.timing import LatencyStats

ROW_FIELDS = ("name", "label", "family", "runtime", "precision", "available", "meets_budget")


def _section(data: dict, window: slice | None) -> Section:
    """The report's first section with each row's latency cut to ``window`` of its rounds."""
    rows = []
    for v in data["variants"]:
        row = VariantResult(**{k: v[k] for k in ROW_FIELDS})
        samples = v["latency"].get(str(ACCEPTANCE_THREADS), {}).get("samples")
        if samples:
            picked = samples[window] if window else samples
            row.latency = {ACCEPTANCE_THREADS: LatencyStats.of(picked)}
        rows.append(row)
    return Section(
        data["title"],
        data["model"],
        data["task"],
        data["seq_len"],
        data["flops"],
        tuple(data["largest_linear"]),
        rows,
        metric=data["metric"],
    )


def ratios(data: dict, window: slice | None = None) -> dict[str, tuple[float | None, str]]:
    return {r.name: (r.value, r.verdict) for r in acceptance_ratios(_section(data, window))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report", type=Path, help="a report.json")
    p.add_argument("--windows", default="10,20,30,50", help="window sizes in rounds")
    args = p.parse_args()
    data = json.loads(args.report.read_text())["sections"][0]
    rounds = min(
        len(v["latency"][str(ACCEPTANCE_THREADS)]["samples"])
        for v in data["variants"]
        if v["available"] and str(ACCEPTANCE_THREADS) in v["latency"]
    )
    whole = ratios(data)
    print(f"{rounds} rounds at {ACCEPTANCE_THREADS} threads; whole run:")
    for name, (value, verdict) in whole.items():
        print(f"  {name:36s} {value:6.2f}x {verdict}")
    for k in (int(x) for x in args.windows.split(",")):
        windows = [slice(s, s + k) for s in range(0, rounds - k + 1, k)]
        if not windows:
            continue
        print(f"\nwindows of {k} rounds ({len(windows)}):")
        per = [ratios(data, w) for w in windows]
        for name, (value, verdict) in whole.items():
            values = [r[name][0] for r in per if r[name][0] is not None]
            flips = sum(r[name][1] != verdict for r in per)
            spread = max(abs(x / value - 1) for x in values)
            print(
                f"  {name:36s} min {min(values):5.2f}x  median {statistics.median(values):5.2f}x "
                f" max {max(values):5.2f}x  (within {spread:.1%} of the whole run; "
                f"{flips}/{len(per)} verdicts differ)"
            )


if __name__ == "__main__":
    main()
