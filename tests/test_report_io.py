"""The report's outer parts: files written and parsed back, a variant that cannot be built
reported instead of crashing, and the worker processes that time each variant alone
and measure its peak memory."""

from __future__ import annotations

import functools
import json
import os
import resource
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from convbert_edge.config import ConvBertConfig
from convbert_edge.report import run as run_module
from convbert_edge.report import variants as variants_module
from convbert_edge.report.gemm import GemmLimit, measure_gemm_limits
from convbert_edge.report.machine import MachineInfo
from convbert_edge.report.results import Section, VariantResult, acceptance_ratios
from convbert_edge.report.run import Report, ReportOptions
from convbert_edge.report.runners import RunnerSpec
from convbert_edge.report.timing import LatencyStats, round_robin
from convbert_edge.report.variants import BuildContext, NotAvailable, Variant
from convbert_edge.report.workers import MemoryResult, Worker, variant_worker
from convbert_edge.report.write import write_report
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
        "integer_only_vs_fastest": "PASS",  # tflite-int8 is the fastest int8 itself here
        "executorch_vs_fastest": "NOT MEASURED",
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
    names = ["fake-missing", "fake-broken", "ours-eager"]
    rows, specs, _ = run_module._build_all(
        names, _ctx(checkpoint, tmp_path, lines.append), lines.append
    )
    by = {r.name: r for r in rows}
    assert by["fake-missing"].reason == "needs a package this machine lacks"
    assert by["fake-broken"].reason == "build failed: RuntimeError: the converter crashed"
    assert by["ours-eager"].available and list(specs) == ["ours-eager"]


def test_our_variants_are_what_the_export_spec_offers():
    from convbert_edge.errors import ExportError
    from convbert_edge.exporters.spec import SPEC
    from convbert_edge.targets import Quantization, Target

    ours = [v for v in variants_module.VARIANTS.values() if v.family == "ours"]
    assert len(ours) >= 8
    for v in ours:
        quant = "int8" if v.precision == "qat-int8" else v.precision
        assert Quantization(quant) in SPEC[Target(v.runtime)], v
    with pytest.raises(ExportError, match="tflite does not offer int16x8"):
        variants_module.Ours("tflite", "int16x8")


def test_unknown_variant_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="valid: .*tflite-int8"):
        variants_module.parse_variants("tflite-int8,tflite-int9")
    assert variants_module.parse_variants(None) == list(variants_module.VARIANTS)


def test_a_variant_worker_times_its_own_calls_and_reports_its_memory(checkpoint):
    call = {
        n: torch.zeros(1, 16, dtype=torch.int32).numpy()
        for n in ("input_ids", "attention_mask", "token_type_ids")
    }
    with variant_worker(RunnerSpec("eager-ours", str(checkpoint)), 1, call) as run:
        times = round_robin({"ours": run}, runs=3, warmup=1)
        result = run.memory()
    assert len(times["ours"]) == 3 and all(0 < ms < 10_000 for ms in times["ours"])
    assert not run._process.is_alive()  # closed with the block
    assert result.baseline_mb > 50  # the worker imported torch before loading
    assert result.peak_mb > result.baseline_mb  # loading and running a model costs memory
    parent_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert result.baseline_mb < parent_peak  # the worker's own peak, not inherited
    assert 0 < result.load_seconds < 60
    with pytest.raises(RuntimeError, match="CheckpointError|not|No such"):
        variant_worker(RunnerSpec("eager-ours", str(checkpoint.parent / "absent")), 1, call)


def test_a_worker_reports_the_time_measured_inside_it_and_its_death():
    with Worker(functools.partial, (time.sleep, 0.05), name="sleeper") as sleep:
        slow_clock = iter(range(0, 1000, 10)).__next__  # the parent would see 10 s a call
        times = round_robin({"sleep": sleep}, runs=2, warmup=0, clock=slow_clock)
    assert all(50 <= ms < 1000 for ms in times["sleep"])  # the worker's own ~50 ms
    with Worker(functools.partial, (time.sleep, 0.001), settle=1, settle_seconds=0.2) as sleep:
        start = time.perf_counter()
        ms = sleep()
        assert time.perf_counter() - start >= 0.2  # it settled for 0.2 s of untimed calls
        assert ms < 100  # and timed one 1 ms call
        assert sleep.reopen(time.sleep, 0.03, settle_seconds=0.0) >= 0
        assert 30 <= sleep() < 1000  # the reopened call
    with Worker(functools.partial, (os._exit, 3), name="crasher") as crash:
        with pytest.raises(RuntimeError, match="crasher: the worker died .*exit code 3"):
            crash()


def test_the_gemm_probe_runs_in_a_worker_and_gives_a_throughput():
    limits = measure_gemm_limits((8, 16, 32), [1, 2], runtimes=("onnx",), runs=3, warmup=1)
    assert sorted(limits) == [1, 2]  # the second thread count reopened the same worker
    for threads, by_runtime in limits.items():
        onnx = by_runtime["onnx"]
        assert onnx.latency.runs == 3 and onnx.gops > 0 and onnx.threads == threads
        assert onnx.as_dict()["shape"] == [8, 16, 32]


def test_report_accuracy_cache_keeps_every_metric(tmp_path, monkeypatch):
    from convbert_edge.evaluation import EvalResult
    from convbert_edge.report import accuracy

    class Data:
        name, metric = "squad/dev", "exact match"
        calls = [{"input_ids": np.arange(8, dtype=np.int32)}]

        def __len__(self):
            return 1

    made = []

    def evaluate(run, data, log=None):
        made.append(1)
        return EvalResult("squad/dev", "exact match", 0.5, np.array(["a"]), np.array([True]),
                          {"f1": 0.75})  # fmt: skip

    monkeypatch.setattr(accuracy, "evaluate", evaluate)
    first = accuracy.scored("v", lambda: None, Data(), tmp_path, "key", log=lambda _: None)
    again = accuracy.scored("v", lambda: None, Data(), tmp_path, "key", log=lambda _: None)
    assert len(made) == 1  # the second came from the cache
    assert again.extra == first.extra == {"f1": 0.75} and again.score == 0.5
    assert [p.name for p in tmp_path.iterdir()] == ["v.npz"]  # no partial file left


def test_library_output_of_a_worker_goes_to_the_log_not_between_the_progress_lines(tmp_path, capfd):
    # Keras prints the TensorSpec list of every model it exports ("Saved artifact at ...")
    # to stdout; the report's TFLite GEMM probe converts a Keras model in a worker, whose
    # stdout is the terminal's unless the worker sends it where library output goes.
    from convbert_edge.cli import run_command

    def body(say):
        say("[gemm] probing")
        measure_gemm_limits((8, 16, 32), [1], runtimes=("tflite",), runs=2, warmup=1)
        say("[gemm] done")
        return 0

    assert run_command("report", body, log_dir=tmp_path) == 0
    out = capfd.readouterr().out
    assert out.splitlines() == ["[gemm] probing", "[gemm] done"], out[:2000]
    (log,) = tmp_path.glob("convbert_edge-report-*.log")
    assert "TensorSpec" in log.read_text()  # routed to the log, not lost


def _make_once(version: str, made: list):
    """A builder that, like the exporter, refuses a directory that already exists."""

    def make(ctx, out: Path) -> None:
        if out.exists():
            raise NotAvailable(f"{out} exists")  # the exporter's refusal, in short
        if version == "broken":
            out.mkdir()
            raise NotAvailable("the converter failed half-way")
        out.mkdir()
        (out / "model.bin").write_text(version)
        made.append(version)

    return make


def test_a_rebuild_replaces_the_cached_build_only_once_the_new_one_is_complete(
    checkpoint, tmp_path
):
    ctx = _ctx(checkpoint, tmp_path, lambda line: None)
    ctx.root.mkdir()
    rebuild = BuildContext(**{**ctx.__dict__, "rebuild": True, "_fingerprint": None})
    made: list[str] = []
    variants_module._cached(_make_once("v1", made), {"peer": "x"})(ctx, "peer-x")
    variants_module._cached(_make_once("v2", made), {"peer": "x"})(rebuild, "peer-x")
    out = ctx.root / "peer-x"
    assert made == ["v1", "v2"] and (out / "model.bin").read_text() == "v2"
    key = json.loads((out / variants_module.BUILD_KEY_NAME).read_text())
    assert key["code"] == variants_module.code_fingerprint()  # other code builds again
    with pytest.raises(NotAvailable, match="half-way"):
        variants_module._cached(_make_once("broken", made), {"peer": "x"})(rebuild, "peer-x")
    assert (out / "model.bin").read_text() == "v2"  # the last good build is kept
    assert sorted(p.name for p in ctx.root.iterdir()) == ["peer-x", "peer-x.building"]
    variants_module._cached(_make_once("v3", made), {"peer": "x"})(rebuild, "peer-x")
    assert sorted(p.name for p in ctx.root.iterdir()) == ["peer-x"]  # its leftover went


def test_a_directory_in_the_cache_the_report_did_not_build_is_left_alone(checkpoint, tmp_path):
    ctx = _ctx(checkpoint, tmp_path, lambda line: None)
    mine = ctx.root / "peer-x"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(NotAvailable, match="not built by the report .*move it out"):
        variants_module._cached(_make_once("v1", []), {"peer": "x"})(ctx, "peer-x")
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
