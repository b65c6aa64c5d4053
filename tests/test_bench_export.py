"""benchmarks/bench_export.py: splitting an export's progress output into steps."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "bench_export", Path(__file__).resolve().parents[1] / "benchmarks" / "bench_export.py"
)
bench_export = importlib.util.module_from_spec(_spec)
sys.modules["bench_export"] = bench_export  # dataclasses look their module up there
_spec.loader.exec_module(bench_export)

OUTPUT = """\
recipe: int8, linear scope
[1/3] resolving the checkpoint ...
      done in 0.0 s
[2/3] converting to executorch int8 ...
      calibrated in 4.5 s
      lowered in 30.25 s
      done in 40.0 s
[3/3] verifying against the fp32 reference ...
      done in 0.5 s
wrote /tmp/x
"""


def test_stages_and_their_sub_steps_are_read_in_order():
    assert bench_export.parse_steps(OUTPUT) == [
        ("resolving the checkpoint", 0.0),
        ("  calibrated", 4.5),
        ("  lowered", 30.25),
        ("converting to executorch int8", 40.0),
        ("verifying against the fp32 reference", 0.5),
    ]


def test_the_rest_is_the_wall_time_outside_the_stages_not_counting_sub_steps_twice():
    run = bench_export.ExportRun("executorch", 50.0, bench_export.parse_steps(OUTPUT))
    assert run.rest == 50.0 - 40.5
