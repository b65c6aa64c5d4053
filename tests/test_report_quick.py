"""The quick report (the CLI's default, what `make demo` runs) and the full one (--full):
which rows and settings each mode picks, and the quick report measuring the artifact an
export just wrote instead of building it again, only when its manifest matches.

The exports and reports here use a tiny checkpoint and tests/data/texts.txt; the held-out
data set is replaced by a few of those texts with made-up labels, so nothing is
downloaded."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from reliability_helpers import TEXTS, edit_manifest, tiny_checkpoint, tree_digest

import convbert_edge.evaluation as evaluation
import convbert_edge.report as report_package
from convbert_edge.exporters import pipeline
from convbert_edge.report import ReportOptions, results
from convbert_edge.report.__main__ import main as report_main
from convbert_edge.report.budget import SpeedTarget
from convbert_edge.report.modes import FULL, QUICK
from convbert_edge.report.reuse import check_export, shipped_variant
from convbert_edge.report.variants import VARIANTS, BuildContext
from convbert_edge.runtime.manifest import Manifest
from convbert_edge.tasks import Task

SEQ = 16
SAMPLES = 8  # calibration texts, as the export and the report are both told
LINEAR = "tflite-int8-linear"
EXPORT_DIR = Path("artifacts/tiny-sequence-classification-tflite-int8-linear")


def _captured_options(monkeypatch, tmp_path, *flags: str) -> ReportOptions:
    """The ReportOptions the CLI makes from ``flags`` (the report itself is not run)."""
    seen = []
    monkeypatch.setattr(report_package, "run_report", seen.append)
    assert report_main([*flags, "--cache-dir", str(tmp_path)]) == 0
    (options,) = seen
    return options


def test_the_default_is_quick_and_full_selects_every_variant(monkeypatch, tmp_path):
    quick = _captured_options(monkeypatch, tmp_path)
    assert quick.mode == "quick" and quick.variants == QUICK.variant_names()
    assert quick.threads == (2,) and quick.runs == QUICK.runs
    assert quick.reuse_exports and not quick.gemm_limit and not quick.score_references
    # the verdicts' rows: our reference, both shipped int8 artifacts, the integer-only
    # model (verdict 4), eager and the peers; nothing the verdicts do not read
    assert {"ours-eager", "transformers-eager", "peer-litert-torch-int8", "tflite-int8"} <= set(
        quick.variants
    )
    assert {"tflite-qat", "executorch-qat", "tflite-fp16", "onnx-int8"}.isdisjoint(quick.variants)

    full = _captured_options(monkeypatch, tmp_path, "--full")
    assert full.mode == "full" and full.variants == list(VARIANTS)
    assert full.threads == (1, 2) and full.runs == FULL.runs
    assert full.gemm_limit and full.score_references and not full.reuse_exports

    # flags replace the mode's choice and keep the rest of it
    mixed = _captured_options(
        monkeypatch, tmp_path, "--variants", "tflite-int8", "--threads", "1,2", "--runs", "7"
    )
    assert mixed.mode == "quick" and mixed.variants == ["tflite-int8"]
    assert mixed.threads == (1, 2) and mixed.runs == 7 and mixed.reuse_exports
    rebuilt = _captured_options(monkeypatch, tmp_path, "--rebuild")
    assert rebuilt.rebuild and not rebuilt.reuse_exports  # --rebuild reuses no export either


def test_the_shipped_variants_are_what_export_int8_writes():
    assert shipped_variant("tflite") == LINEAR  # the exporter's default scope
    assert shipped_variant("executorch") == "executorch-int8"
    assert {LINEAR, "executorch-int8"} <= set(QUICK.variant_names())


def _fake_eval_set(dataset, tokenizer, seq_len, *, limit=None, cache_dir=None, **_):
    """Eight of the committed texts with alternating labels, instead of a download."""
    from convbert_edge.exporters.inputs import task_batches

    texts = TEXTS.read_text(encoding="utf-8").splitlines()[-8:]
    calls = task_batches(tokenizer, texts, Task.SEQUENCE_CLASSIFICATION, 1, seq_len)
    labels = np.arange(len(texts)) % 2
    return evaluation.EvalSet("fake/test", Task.SEQUENCE_CLASSIFICATION, "accuracy", calls, labels)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A working directory with a tiny checkpoint and its `--target tflite --int8` export
    at the export's default directory, as `make demo` leaves them."""
    from convbert_edge.export import main as export_main

    work = tmp_path_factory.mktemp("work")
    tiny_checkpoint(work / "tiny")
    before = Path.cwd()
    os.chdir(work)
    try:
        args = ["--target", "tflite", "--int8", "--model", str(work / "tiny"),
                "--seq-len", str(SEQ), "--golden-samples", "3",
                "--calibration-samples", str(SAMPLES), "--calibration", str(TEXTS),
                "--cache-dir", str(work / "cache")]  # fmt: skip
        assert export_main(args) == 0
    finally:
        os.chdir(before)
    assert (work / EXPORT_DIR / "manifest.json").is_file()
    return work


def _report(monkeypatch, work: Path, *flags: str) -> tuple[dict, str, list]:
    """Run the quick report CLI in ``work`` on ./tiny; (report.json, report.md, exports
    it ran)."""
    exports = []
    real_export = pipeline.export

    def counting_export(options, log=print):
        exports.append(options)
        return real_export(options, log=log)

    monkeypatch.chdir(work)
    monkeypatch.setattr(evaluation, "eval_set", _fake_eval_set)
    monkeypatch.setattr(pipeline, "export", counting_export)
    args = ["--model", str(work / "tiny"), "--seq-len", str(SEQ),
            "--calibration", str(TEXTS), "--calibration-samples", str(SAMPLES),
            "--variants", f"ours-eager,{LINEAR}", "--runs", "2", "--warmup", "0",
            "--cache-dir", str(work / "cache"), "--out", str(work / "report"), *flags]  # fmt: skip
    assert report_main(args) == 0
    data = json.loads((work / "report" / "report.json").read_text())
    return data, (work / "report" / "report.md").read_text(), exports


def test_quick_report_measures_the_export_in_place_and_builds_nothing(workdir, monkeypatch):
    before = tree_digest(workdir / EXPORT_DIR)
    data, md, exports = _report(monkeypatch, workdir)

    assert exports == []  # nothing was built
    assert not (workdir / "cache" / "report-artifacts" / f"tiny-s{SEQ}" / LINEAR).exists()
    assert tree_digest(workdir / EXPORT_DIR) == before  # nothing was written into it
    section = data["sections"][0]
    (reuse,) = section["reuse"]
    sha = Manifest.read(workdir / EXPORT_DIR).model_sha256
    assert reuse == {"variant": LINEAR, "path": str(EXPORT_DIR), "reused": True,
                     "reason": "", "model_sha256": sha}  # fmt: skip
    row = next(v for v in section["variants"] if v["name"] == LINEAR)
    assert row["available"] and row["path"] == str((workdir / EXPORT_DIR).resolve())
    assert row["latency"]["2"]["runs"] == 2 and row["agreement"] is not None
    assert data["options"]["mode"] == "quick"
    assert section["gemm"] == {}  # no speed line missed (none measured): no GEMM probe
    assert "Mode: **quick" in md and "`--full`" in md
    assert f"reused `{EXPORT_DIR}` (model sha256 {sha})" in md


def test_a_missed_speed_line_gets_the_gemm_probe_and_says_what_this_cpu_allows(
    workdir, monkeypatch
):
    # A line no model can meet, so that it misses whatever the machine's speed
    impossible = SpeedTarget("vs_transformers_eager", "ours vs transformers eager", 1e6)
    monkeypatch.setattr(results, "SPEED_TARGETS", (impossible,))
    data, md, _ = _report(
        monkeypatch, workdir, "--variants", f"ours-eager,{LINEAR},transformers-eager"
    )
    section = data["sections"][0]
    (ratio,) = section["ratios"]
    assert ratio["verdict"] == "MISS" and ratio["ours"] == LINEAR
    assert list(section["gemm"]) == ["2"] and list(section["gemm"]["2"]) == ["tflite"]
    assert 0 < ratio["ceiling"] < 1e6 and "out of reach on this CPU" in ratio["note"]
    assert "| ceiling |" in md and "### Against the CPU's int8 GEMM limit" in md


def test_quick_report_refuses_an_export_of_another_checkpoint_and_builds_instead(
    workdir, tmp_path, monkeypatch
):
    # the same export beside a checkpoint of the same name but other weights
    other = tmp_path / "other"
    (other / "artifacts").mkdir(parents=True)
    os.symlink(workdir / EXPORT_DIR, other / EXPORT_DIR)
    tiny_checkpoint(other / "tiny", seed=1)
    before = tree_digest(workdir / EXPORT_DIR)
    data, md, exports = _report(monkeypatch, other)

    assert [o.target.value for o in exports] == ["tflite"]  # built by the report instead
    (reuse,) = data["sections"][0]["reuse"]
    assert not reuse["reused"] and "another checkpoint" in reuse["reason"]
    assert "built by the report, not reused" in md and "another checkpoint" in md
    built = other / "cache" / "report-artifacts" / f"tiny-s{SEQ}" / LINEAR
    row = next(v for v in data["sections"][0]["variants"] if v["name"] == LINEAR)
    assert row["available"] and Path(row["path"]) == built
    assert tree_digest(workdir / EXPORT_DIR) == before  # the user's export is untouched


def _ctx(work: Path, **changes) -> BuildContext:
    fields = dict(model=str(work / "tiny"), model_dir=work / "tiny", model_name="tiny",
                  task="sequence-classification", seq_len=SEQ, cache_dir=work / "cache",
                  root=work / "cache" / "report-artifacts", calibration=str(TEXTS),
                  calibration_samples=SAMPLES)  # fmt: skip
    return BuildContext(**{**fields, **changes})


def test_check_export_says_why_an_export_does_not_match(workdir, tmp_path, monkeypatch):
    monkeypatch.chdir(workdir)
    assert check_export(LINEAR, _ctx(workdir)).reused
    other_settings = check_export(LINEAR, _ctx(workdir, calibration_samples=SAMPLES + 1))
    assert not other_settings.reused
    assert "recipe.calibration_samples 8 (the report builds 9)" in other_settings.reason
    missing = check_export("executorch-int8", _ctx(workdir))
    assert not missing.reused and "no export there" in missing.reason

    # a copy whose manifest predates the checkpoint's hashes, and one with an edited model
    monkeypatch.chdir(tmp_path)
    copy = shutil.copytree(workdir / EXPORT_DIR, tmp_path / EXPORT_DIR)
    source = json.loads((copy / "manifest.json").read_text())["source"]
    edit_manifest(copy, source={k: v for k, v in source.items() if k != "checkpoint_sha256"})
    assert "does not record the checkpoint's sha256" in check_export(LINEAR, _ctx(workdir)).reason
    edit_manifest(copy, source=source)
    assert check_export(LINEAR, _ctx(workdir)).reused
    with open(copy / "model.tflite", "ab") as f:
        f.write(b"\0")
    assert "does not match its manifest" in check_export(LINEAR, _ctx(workdir)).reason
