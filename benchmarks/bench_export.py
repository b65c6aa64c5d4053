"""Wall time of the export users start from, with the breakdown by step.

    python benchmarks/bench_export.py [--targets tflite,executorch] [--repeats 1]
        [--model DIR] [--budget 60]

Runs ``python -m convbert_edge.export --target T --int8`` for each target as a user would
(a fresh process, so Python and library imports are counted) into a temporary directory,
and splits its wall time into the numbered stages it prints ('[k/n] title ...' then
'done in X s'), any sub-step lines a stage prints ('      lowered in X s'), and the rest
(interpreter start-up and imports, recipe planning, publishing). The issue's budget is
60 s per target on a quiet machine: run it alone. --repeats N reports the median run.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

STAGE = re.compile(r"^\[(\d+)/(\d+)\] (.+?) \.\.\.$")
DONE = re.compile(r"^\s+done in ([\d.]+) s$")
# a sub-step a stage reports itself, e.g. "      lowered in 12.3 s"
SUB_STEP = re.compile(r"^\s+(?!done in)(.+?) in ([\d.]+) s$")


@dataclass
class ExportRun:
    """One export's wall time and the seconds of each step it printed."""

    target: str
    wall: float
    steps: list[tuple[str, float]] = field(default_factory=list)

    @property
    def rest(self) -> float:
        """Wall time outside the numbered stages: start-up, imports, planning, publishing."""
        return self.wall - sum(seconds for name, seconds in self.steps if not name.startswith("  "))


def parse_steps(output: str) -> list[tuple[str, float]]:
    """The (step, seconds) pairs of an export's progress output; sub-steps are indented
    under the stage that printed them."""
    steps: list[tuple[str, float]] = []
    title = None
    for line in output.splitlines():
        if match := STAGE.match(line):
            title = match.group(3)
        elif (match := DONE.match(line)) and title is not None:
            steps.append((title, float(match.group(1))))
            title = None
        elif (match := SUB_STEP.match(line)) and title is not None:
            steps.append((f"  {match.group(1)}", float(match.group(2))))
    return steps


def run_export(target: str, model: str | None, out: Path) -> ExportRun:
    command = [sys.executable, "-m", "convbert_edge.export", "--target", target, "--int8"]
    command += ["--out", str(out)] + (["--model", model] if model else [])
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return ExportRun(target, wall, parse_steps(result.stdout))


def table(run: ExportRun, budget: float) -> str:
    verdict = "within" if run.wall <= budget else "OVER"
    lines = [
        f"### --target {run.target} --int8: {run.wall:.1f} s wall "
        f"({verdict} the {budget:.0f} s budget)",
        "",
        "| step | s | share |",
        "|---|---:|---:|",
    ]
    for name, seconds in run.steps:
        lines.append(f"| {name} | {seconds:.1f} | {seconds / run.wall:.0%} |")
    rest = f"{run.rest:.1f} | {run.rest / run.wall:.0%}"
    lines.append(f"| start-up, imports, planning, publishing | {rest} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--targets", default="tflite,executorch", help="comma list (default both)")
    add("--repeats", type=int, default=1, help="runs per target; the median is shown")
    add("--model", default=None, help="checkpoint directory (default: the embedded default)")
    add("--budget", type=float, default=60.0, help="seconds per export (default 60)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    failed = False
    for target in args.targets.split(","):
        runs = []
        for repeat in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
                print(f"[{target} {repeat + 1}/{args.repeats}] exporting ...", flush=True)
                runs.append(run_export(target, args.model, Path(tmp) / "artifact"))
        median = statistics.median(run.wall for run in runs)
        shown = min(runs, key=lambda run: abs(run.wall - median))
        if args.repeats > 1:
            print(f"walls: {', '.join(f'{run.wall:.1f}' for run in runs)} s; the median run:")
        print(table(shown, args.budget), flush=True)
        failed |= shown.wall > args.budget
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
