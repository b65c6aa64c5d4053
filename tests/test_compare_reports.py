"""benchmarks/compare_reports.py: the side-by-side table of two report.json files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "compare_reports.py"


def _report(path: Path, median_ms: float, score: float) -> Path:
    variant = {
        "name": "tflite-int8-linear",
        "available": True,
        "score": score,
        "agreement": 0.997,
        "latency": {"2": {"median": median_ms}},
    }
    ratios = [{"name": "vs_fastest_peer", "value": 1.5, "verdict": "PASS"}]
    path.write_text(json.dumps({"sections": [{"variants": [variant], "ratios": ratios}]}))
    return path


def _run(*args: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True
    )


def test_the_table_shows_each_run_and_its_ratio_to_the_first(tmp_path):
    old = _report(tmp_path / "old.json", 2.0, 0.7938)
    new = _report(tmp_path / "new.json", 3.0, 0.7928)
    result = _run(old, new)
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "tflite-int8-linear" in line)
    assert "79.38 / 99.7 ; 79.28 / 99.7" in row
    assert "2.00 ; 3.00" in row and "| 1.50 |" in row
    assert "vs_fastest_peer 1.50x PASS" in result.stdout


def test_a_file_that_is_not_a_report_is_named_in_the_error(tmp_path):
    old = _report(tmp_path / "old.json", 2.0, 0.79)
    bad = tmp_path / "notes.json"
    bad.write_text("not json")
    result = _run(old, bad)
    assert result.returncode != 0
    assert "notes.json: not a report.json" in result.stderr
