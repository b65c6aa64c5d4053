"""exporters/progress.py and the pipeline's stage table: '[k/n]' comes from STAGES."""

from __future__ import annotations

import pytest

from convbert_edge.exporters.pipeline import STAGES, ExportOptions
from convbert_edge.exporters.progress import Progress, Stage, substep


def first(x):
    return x + 1


def second(x):
    return x * 10


def third(x):
    return -x


TABLE = (
    Stage(first, "adding one"),
    Stage(second, lambda x: f"multiplying {x}", when=lambda o: o == "all"),
    Stage(third, "negating"),
)


def _run(options, lines):
    with Progress(TABLE, options, lines.append) as step:
        x = step(first, 1)
        y = step(second, x)
        return x, y, step(third, x)


def test_numbers_and_titles_come_from_the_table():
    lines: list[str] = []
    assert _run("all", lines) == (2, 20, -2)
    assert [line for line in lines if line.startswith("[")] == [
        "[1/3] adding one ...",
        "[2/3] multiplying 2 ...",
        "[3/3] negating ...",
    ]
    assert sum(line.startswith("      done in ") for line in lines) == 3


def test_a_stage_the_options_skip_is_not_run_nor_counted():
    lines: list[str] = []
    assert _run("some", lines) == (2, None, -2)
    assert [line for line in lines if line.startswith("[")] == [
        "[1/2] adding one ...",
        "[2/2] negating ...",
    ]


def test_stages_out_of_order_or_left_out_are_refused():
    with pytest.raises(RuntimeError, match="second was called where the stage table has first"):
        with Progress(TABLE, "all", lambda _: None) as step:
            step(second, 1)
    with pytest.raises(RuntimeError, match="not called: second, third"):
        with Progress(TABLE, "all", lambda _: None) as step:
            step(first, 1)
    with pytest.raises(RuntimeError, match="has no more stages"):
        with Progress(TABLE, "all", lambda _: None) as step:
            step(first, 1), step(second, 1), step(third, 1), step(third, 1)


def test_a_failing_stage_says_no_done_line_and_its_error_passes_through():
    lines: list[str] = []

    def broken(x):
        raise ValueError("broken stage")

    with pytest.raises(ValueError, match="broken stage"):
        with Progress((Stage(broken, "breaking"),), None, lines.append) as step:
            step(broken, 1)
    assert lines == ["[1/1] breaking ..."]


@pytest.mark.parametrize(
    ("changes", "total"),
    [
        (dict(target="tflite"), 7),
        (dict(target="onnx", quantization="int8"), 7),
        (dict(target="tflite", quantization="int8", qat=True), 9),  # train + check
        (dict(target="executorch", quantization="int8", qat=True, qat_fallback=False), 8),
    ],
)
def test_the_pipelines_step_count_follows_its_options(changes, total):
    options = ExportOptions(**changes)
    assert Progress(STAGES, options, print).total == total


def _timed_parts(x):
    with substep("part one"):
        with substep("inner"):
            pass
    return x


def test_a_stage_times_its_parts_under_its_own_line():
    lines: list[str] = []
    with Progress((Stage(_timed_parts, "working"),), None, lines.append) as step:
        step(_timed_parts, 1)
    assert lines[0] == "[1/1] working ..."
    assert [line.split(" in ")[0].strip() for line in lines[1:]] == ["inner", "part one", "done"]
    lines.clear()
    _timed_parts(1)  # outside a stage: nothing to print under
    with Progress((Stage(first, "after"),), None, lines.append) as step:
        step(first, 1)
    assert not any("part one" in line for line in lines)
