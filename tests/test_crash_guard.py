"""runtime/crash_guard.Child: a child started ahead of its job, as the export starts
verification's child before converting, so that the runtime's import overlaps the work."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from reliability_helpers import TEXTS

from convbert_edge.errors import ArtifactError
from convbert_edge.runtime.crash_guard import CHILD_MODULE, Child
from convbert_edge.runtime.outputs import read_outputs_file
from convbert_edge.runtime.session import load, preload
from convbert_edge.runtime.verify import run_golden, verify_artifact
from convbert_edge.targets import Target


def test_a_preloaded_child_runs_the_golden_calls_as_this_process_does(tiny_onnx_artifact, tmp_path):
    outputs = tmp_path / "outputs.npz"
    with Child(preload=Target.ONNX) as child:
        child.run("golden", tiny_onnx_artifact, outputs, threads=1)
    theirs = read_outputs_file(outputs)
    ours = run_golden(tiny_onnx_artifact, threads=1)
    assert theirs.keys() == ours.keys()
    for name in ours:
        np.testing.assert_array_equal(theirs[name], ours[name])


def test_verify_artifact_runs_in_the_child_it_is_given(tiny_onnx_artifact):
    child = Child(preload=Target.ONNX)
    assert verify_artifact(tiny_onnx_artifact, threads=1, child=child).passed
    with pytest.raises(RuntimeError, match="one job"):  # it was that child that ran it
        child.run("probe", tiny_onnx_artifact)


def test_a_broken_artifact_in_a_preloaded_child_is_an_artifact_error(tmp_path):
    with Child(preload=Target.EXECUTORCH) as child, pytest.raises(ArtifactError, match="manifest"):
        child.run("probe", tmp_path)


def test_a_child_never_given_a_job_is_stopped_on_close():
    child = Child(preload=Target.TFLITE)
    child.close()
    assert child._process.returncode is not None
    child.close()  # twice is harmless


def test_a_waiting_child_whose_parent_goes_away_exits_quietly():
    done = subprocess.run(
        [sys.executable, "-m", CHILD_MODULE, "--wait", "--preload", "onnx"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_preloading_a_missing_runtime_leaves_the_error_to_the_load(monkeypatch, tiny_onnx_artifact):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now fails
    preload(Target.ONNX)  # says nothing
    with pytest.raises(ArtifactError, match="pip install onnxruntime"):
        load(tiny_onnx_artifact, isolate=False)


@pytest.mark.slow  # an export
def test_the_export_starts_verifications_child_just_before_converting(
    tiny_checkpoint_dir, tmp_path, monkeypatch
):
    from convbert_edge.exporters import pipeline

    events: list[str] = []

    class RecordedChild(Child):
        def __init__(self, preload=None):
            events.append(f"child for {preload.value}")
            super().__init__(preload)

    monkeypatch.setattr(pipeline, "Child", RecordedChild)
    options = pipeline.ExportOptions(
        target="onnx", model=str(tiny_checkpoint_dir), seq_len=16, out=tmp_path / "art",
        golden_samples=3, calibration=str(TEXTS),
    )  # fmt: skip
    assert pipeline.export(options, log=events.append).verify.passed
    stages = [e for e in events if e.startswith("[") or e.startswith("child")]
    converting = next(i for i, e in enumerate(stages) if "converting" in e)
    assert stages[converting - 1] == "child for onnx"
    assert stages.count("child for onnx") == 1
