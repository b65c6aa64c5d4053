"""The report's outer parts: files written and parsed back, a variant that cannot be built
reported instead of crashing, and peak memory measured in a child process."""

from __future__ import annotations

import json
import resource
from pathlib import Path

import pytest
import torch

from convbert_edge.config import ConvBertConfig
from convbert_edge.runtime.report import run as run_module
from convbert_edge.runtime.report import variants as variants_module
from convbert_edge.runtime.report.gemm import GemmLimit
from convbert_edge.runtime.report.machine import MachineInfo
from convbert_edge.runtime.report.memory import MemoryResult, measure_in_child
from convbert_edge.runtime.report.results import Section, VariantResult, acceptance_ratios
from convbert_edge.runtime.report.run import Report, ReportOptions
from convbert_edge.runtime.report.runners import RunnerSpec
from convbert_edge.runtime.report.timing import LatencyStats
from convbert_edge.runtime.report.variants import BuildContext, NotAvailable, Variant
from convbert_edge.runtime.report.write import write_report
from convbert_edge.torch_stack import ConvBertForSequenceClassification

TINY = dict(
    vocab_size=30522,
    hidden_size=32,
    num_hidden_layers=1,
    num_attention_heads=4,
    intermediate_size=64,
    embedding_size=16,
    pad_token_id=0,
    max_position_embeddings=32,
)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = ConvBertForSequenceClassification(ConvBertConfig(**TINY, id2label={0: "n", 1: "p"}))
    return model.save_pretrained(tmp_path_factory.mktemp("ckpt") / "tiny")


def _row(name, family, precision, median, score, runtime="tflite", **kw):
    row = VariantResult(
        name,
        name.replace("-", " "),
        family,
        runtime,
        precision,
        score=score,
        drop_points=0.2,
        agreement=0.99,
        meets_budget=True,
        **kw,
    )
    row.latency = {1: LatencyStats.of([median * 1.8]), 2: LatencyStats.of([median, median + 1])}
    row.memory = MemoryResult(peak_mb=300.0, baseline_mb=250.0, load_seconds=0.05)
    row.gemm_fraction = {2: 0.3}
    return row


def test_report_files_are_written_and_parse(tmp_path):
    rows = [
        _row("transformers-eager", "baseline", "fp32", 100.0, 0.80, "torch"),
        _row("tflite-int8", "ours", "int8", 8.0, 0.79),
        _row("peer-litert-torch-int8", "peer", "int8", 10.0, 0.78),
        VariantResult(
            "tflite-int16x8",
            "TFLite int16x8",
            "ours",
            "tflite",
            "int16x8",
            available=False,
            reason="tflite does not offer int16x8",
        ),
    ]
    section = Section(
        "model",
        "tiny",
        "sequence-classification",
        128,
        2.44e9,
        (128, 256, 1024),
        rows,
        metric="accuracy",
        eval_set="movie_reviews/test",
        eval_examples=10,
        reference="ours-eager",
    )
    section.gemm = {2: {"tflite": GemmLimit("tflite", (128, 256, 1024), 2, LatencyStats.of([0.1]))}}
    section.ratios = acceptance_ratios(section)
    machine = MachineInfo("Test CPU", 2, 2, ["avx512_vnni"], packages={"torch": "2.13.0"})
    report = Report(machine, ReportOptions(threads=(1, 2), runs=3), [section], 12.0, tmp_path)
    write_report(report)

    data = json.loads((tmp_path / "report.json").read_text())
    variants = {v["name"]: v for v in data["sections"][0]["variants"]}
    assert variants["tflite-int8"]["latency"]["2"]["median"] == pytest.approx(8.5)
    assert variants["tflite-int16x8"]["available"] is False
    verdicts = {r["name"]: r["verdict"] for r in data["sections"][0]["ratios"]}
    assert verdicts == {
        "vs_transformers_eager": "PASS",
        "vs_fastest_peer": "MISS",
        "executorch_vs_transformers_lowered": "NOT MEASURED",
    }
    assert data["machine"]["flags"] == ["avx512_vnni"]
    assert data["budgets"]["ptq"] == {"max_drop": 1.0, "min_agreement": 0.97}
    md = (tmp_path / "report.md").read_text()
    assert "not available: tflite does not offer int16x8" in md
    assert "**PASS**" in md and "**MISS**" in md and "avx512_vnni" in md
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _ctx(checkpoint, tmp_path, log):
    return BuildContext(
        model=str(checkpoint),
        model_dir=checkpoint,
        task="sequence-classification",
        seq_len=16,
        cache_dir=tmp_path,
        root=tmp_path / "artifacts",
        log=log,
    )


def test_variants_that_cannot_be_built_are_reported_not_raised(checkpoint, tmp_path, monkeypatch):
    def missing(ctx, name):
        raise NotAvailable("needs a package this machine lacks")

    def broken(ctx, name):
        raise RuntimeError("the converter crashed\nwith a long trace")

    registry = dict(variants_module.VARIANTS)
    registry["fake-missing"] = Variant("missing", "peer", "tflite", "int8", missing)
    registry["fake-broken"] = Variant("broken", "ours", "onnx", "int8", broken)
    monkeypatch.setattr(variants_module, "VARIANTS", registry)
    monkeypatch.setattr(run_module, "VARIANTS", registry)
    lines = []
    names = ["fake-missing", "fake-broken", "tflite-int16x8", "ours-eager"]
    rows, specs = run_module._build_all(
        names, _ctx(checkpoint, tmp_path, lines.append), lines.append
    )
    by = {r.name: r for r in rows}
    assert by["fake-missing"].reason == "needs a package this machine lacks"
    assert by["fake-broken"].reason == "build failed: RuntimeError: the converter crashed"
    assert not by["tflite-int16x8"].available and "int16x8" in by["tflite-int16x8"].reason
    assert by["ours-eager"].available and list(specs) == ["ours-eager"]


def test_unknown_variant_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="valid: .*tflite-int8"):
        variants_module.parse_variants("tflite-int8,tflite-int9")
    assert variants_module.parse_variants(None) == list(variants_module.VARIANTS)


def test_peak_memory_is_measured_in_a_child_process(checkpoint):
    call = {
        n: torch.zeros(1, 16, dtype=torch.int32).numpy()
        for n in ("input_ids", "attention_mask", "token_type_ids")
    }
    result = measure_in_child(RunnerSpec("eager-ours", str(checkpoint)), call, runs=2)
    assert result.baseline_mb > 50  # the child imported torch before loading
    assert result.peak_mb > result.baseline_mb  # loading and running a model costs memory
    parent_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert result.baseline_mb < parent_peak  # the child's own peak, not inherited
    assert 0 < result.load_seconds < 60
    with pytest.raises(RuntimeError, match="CheckpointError|not|No such"):
        measure_in_child(RunnerSpec("eager-ours", str(checkpoint.parent / "absent")), call)
