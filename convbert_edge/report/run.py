"""The report as a straight line: build (or reuse) each variant, score it, time it
round-robin, read its memory from its worker, compare with the CPU's int8 GEMM limit,
write the files. Which variants and settings come from the mode (modes.py).

    report = run_report(ReportOptions.for_mode("quick"))   # the default model, the verdicts
    report = run_report(ReportOptions.for_mode("full"))    # every variant
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from convbert_edge.data import default_dataset

from .budget import ACCEPTANCE_THREADS, BUDGETS
from .gemm import largest_linear, measure_gemm_limits, model_flops
from .machine import MachineInfo, describe_machine
from .modes import FULL
from .options import ReportOptions
from .results import Section, VariantResult, acceptance_ratios
from .reuse import ExportReuse, check_export, reusable
from .runners import RunnerSpec, open_runner
from .timing import LatencyStats, round_robin
from .variants import (
    BUILD_KEY_NAME,
    SHAPE_VARIANTS,
    VARIANTS,
    BuildContext,
    NotAvailable,
    build_variant,
)
from .workers import settling_for, variant_worker

# What drop and agreement are measured against: the first of these that was scored.
FP32_REFERENCES = ("ours-eager", "executorch-fp32", "tflite-fp32", "onnx-fp32")

# Scoring runs each variant in this process, on one thread: predictions do not depend on
# the thread count, and on this shared 2-core machine, with two other jobs running, our
# eager PyTorch model took 117 ms an example at two threads and 24 ms at one (its OpenMP
# threads wait on each other); alone, 9.1 and 13.3 ms (docs/report).
SCORING_THREADS = 1

PACKAGES = (
    "torch",
    "executorch",
    "tensorflow",
    "ai-edge-litert",
    "onnxruntime",
    "transformers",
    "litert-torch",
)


@dataclass
class Report:
    machine: MachineInfo
    options: ReportOptions
    sections: list[Section]
    seconds: float
    out: Path


def _calls_for(
    model_dir: Path, task: str, seq_len: int, n: int, cache_dir: Path, calibration: str | None
):
    """(example call, calibration calls) from the training split (or the start of a text
    file), as the pipeline makes them."""
    from convbert_edge.exporters.inputs import load_texts, task_batches
    from convbert_edge.tokenizer import checkpoint_tokenizer

    cache = {}

    def calls():
        if not cache:
            tok = checkpoint_tokenizer(model_dir)
            texts = load_texts(calibration, n, "train", cache_dir)
            calib = task_batches(tok, texts, task, 1, seq_len)
            cache["v"] = (calib[0], calib)
        return cache["v"]

    return calls


def _size_mb(spec: RunnerSpec) -> float:
    path = Path(spec.path)
    if spec.kind == "artifact":
        from convbert_edge.runtime.manifest import Manifest

        return (path / Manifest.read(path).model_file).stat().st_size / 1e6
    return (
        sum(p.stat().st_size for p in path.iterdir() if p.suffix in (".safetensors", ".bin")) / 1e6
    )


def _build_all(
    names: list[str], ctx: BuildContext, log, reuse_exports: bool = False
) -> tuple[list[VariantResult], dict, list[ExportReuse]]:
    """Each variant built (or reused); with ``reuse_exports``, ours taken from the export
    CLI's default directories first when they match (reuse.py)."""
    rows, specs, reuses = [], {}, []
    for i, name in enumerate(names, 1):
        v = VARIANTS[name]
        row = VariantResult(name, v.label, v.family, v.runtime, v.precision)
        log(f"[build {i}/{len(names)}] {name} ...")
        start = time.perf_counter()
        try:
            spec = None
            if reuse_exports and reusable(name):
                check = check_export(name, ctx)
                reuses.append(check)
                if check.reused:
                    spec = check.spec(ctx.task)
                    log(f"      reusing the export {check.path}, model sha256 {check.model_sha256}")
                else:
                    log(f"      not reusing {check.path}: {check.reason}; building")
            if spec is None:
                spec = build_variant(name, ctx)
            specs[name] = spec
            row.path = spec.path
            row.size_mb = _size_mb(spec)
            log(f"      ready in {time.perf_counter() - start:.0f} s")
        except NotAvailable as err:
            row.available, row.reason = False, str(err)
            log(f"      not available: {err}")
        except Exception as err:  # one broken variant must not stop the report
            row.available = False
            row.reason = f"build failed: {type(err).__name__}: {str(err).splitlines()[0][:300]}"
            log(f"      {row.reason}")
        rows.append(row)
    return rows, specs, reuses


def _score_all(section: Section, specs: dict, ctx: BuildContext, options: ReportOptions, log):
    from convbert_edge.evaluation import agreement, eval_set
    from convbert_edge.tokenizer import checkpoint_tokenizer

    from .accuracy import scored

    dataset = options.dataset or default_dataset(section.task)
    if dataset is None:
        section.notes.append(f"accuracy not measured: no held-out data set for {section.task}")
        return
    data = eval_set(
        dataset,
        checkpoint_tokenizer(ctx.model_dir),
        section.seq_len,
        limit=options.eval_limit,
        cache_dir=options.cache_dir,
    )
    section.metric, section.eval_set, section.eval_examples = data.metric, data.name, len(data)
    log(f"[accuracy] {data.name}: {len(data)} examples, {data.metric}")
    results = {}
    for row in section.variants:
        if row.name not in specs:
            continue
        if not (options.score_references or row.family == "ours" or row.name in FP32_REFERENCES):
            continue  # a speed reference only: the budget verdict reads ours and fp32
        spec = specs[row.name]
        key = f"{row.name}|{ctx.fingerprint()}|{_build_key(spec)}"
        try:
            results[row.name] = scored(
                row.name,
                lambda s=spec: open_runner(s, SCORING_THREADS),
                data,
                ctx.root / "accuracy",
                key,
                log,
            )
        except Exception as err:  # a runtime that fails on real inputs is reported, not fatal
            row.reason = f"scoring failed: {type(err).__name__}: {str(err).splitlines()[0][:300]}"
            log(f"      {row.name}: {row.reason}")
    if not options.score_references:
        section.notes.append(
            "accuracy of transformers eager and the peers: not scored in this mode "
            "(`--full` scores them)"
        )
    reference = next((n for n in FP32_REFERENCES if n in results), None)
    section.reference = reference
    for row in section.variants:
        if row.name in results:
            row.score = results[row.name].score
            if reference is not None:
                row.drop_points = 100.0 * (results[reference].score - row.score)
                row.agreement = agreement(results[row.name], results[reference])
                budget = BUDGETS["qat" if row.precision.startswith("qat") else "ptq"]
                row.meets_budget = budget.met(row.drop_points, row.agreement)


def _qat_notes(specs: dict) -> list[str]:
    """What --qat's dev check shipped, for each QAT variant (from its manifest)."""
    from convbert_edge.exporters.selection import QatCheck
    from convbert_edge.runtime.manifest import Manifest

    notes = []
    for name, spec in specs.items():
        if spec.kind != "artifact":
            continue
        check = Manifest.read(spec.path).source.get("qat_check")
        if check:
            notes.append(f"{name}: {QatCheck.from_dict(check).summary()}")
    return notes


def _build_key(spec: RunnerSpec) -> str:
    """What the accuracy cache keys a variant's predictions by: the report's build key, or
    for an artifact it did not build (a reused export) its model file's sha256."""
    from convbert_edge.runtime.manifest import Manifest

    path = Path(spec.path) / BUILD_KEY_NAME
    if path.is_file():
        return path.read_text(encoding="utf-8")
    if spec.kind == "artifact":
        return f"model_sha256 {Manifest.read(spec.path).model_sha256}"
    return spec.kind


def _time_all(section: Section, specs: dict, call, options: ReportOptions, log):
    """Latency at each thread count, each variant in a worker process of its own (see
    workers.py), reopened at the next thread count; load time and peak memory come from
    the first opening."""
    workers = {}
    try:
        for i, threads in enumerate(options.threads):
            log(
                f"[latency] {threads} thread(s): {len(specs)} variants x {options.runs} rounds, "
                "shuffled round-robin, one worker process each"
            )
            for name, spec in specs.items():
                try:
                    if i == 0:
                        workers[name] = variant_worker(spec, threads, call)
                    elif name in workers:
                        workers[name].reopen(spec, threads, call, **settling_for(threads))
                except RuntimeError as err:
                    workers.pop(name, None)
                    row = next(r for r in section.variants if r.name == name)
                    row.memory_error = f"could not open: {str(err).splitlines()[0][:300]}"
                    log(f"      {name}: {row.memory_error}")
            times = round_robin(workers, options.runs, options.warmup, log=log)
            for row in section.variants:
                if row.name in times:
                    row.latency[threads] = LatencyStats.of(times[row.name])
                if row.name in workers and options.memory and i == 0:
                    row.memory = workers[row.name].memory()
    finally:
        for worker in workers.values():
            worker.close()


def _gemm(section: Section, threads, runtimes: tuple[str, ...], cache: dict, log):
    """Each of ``runtimes``' int8 GEMM limit at ``threads`` into ``section`` (probed once
    per layer shape, thread counts and runtimes, ``cache``) and every row's share of it."""
    key = (section.largest_linear, tuple(threads), runtimes)
    if key not in cache:
        log(
            f"[gemm] int8 GEMM {section.largest_linear} in {', '.join(runtimes)}, "
            f"{', '.join(map(str, threads))} thread(s)"
        )
        cache[key] = measure_gemm_limits(section.largest_linear, threads, runtimes)
    for t in threads:
        section.gemm[t] = cache[key][t]
        for row in section.variants:
            limit = cache[key][t].get(row.runtime)
            if limit is not None and row.median(t):
                gops = section.flops / (row.median(t) / 1e3) / 1e9
                row.gemm_fraction[t] = gops / limit.gops


def _missed_speed_runtimes(section: Section) -> tuple[str, ...]:
    """The runtimes of ours in the "ours is faster" lines that missed."""
    missed = {
        section.get(r.ours).runtime
        for r in section.ratios
        if not r.at_most and r.verdict == "MISS" and r.ours and section.get(r.ours)
    }
    return tuple(sorted(missed))


def measure_model(
    title: str,
    model: str | None,
    names: list[str],
    options: ReportOptions,
    gemm_cache: dict,
    *,
    accuracy: bool,
    reuse_exports: bool = False,
    log: Callable[[str], None] = print,
) -> Section:
    """Build, score, time and size every variant of one checkpoint; with ``reuse_exports``
    take the export CLI's artifacts of it where they match (reuse.py)."""
    from convbert_edge.checkpoint import resolve_model_dir
    from convbert_edge.config import ConvBertConfig
    from convbert_edge.default_model import DEFAULT_NAME, default_checkpoint
    from convbert_edge.exporters.pipeline import task_of

    if model is None:
        model_dir, model_name = default_checkpoint(), DEFAULT_NAME
    else:
        model_dir, model_name = Path(resolve_model_dir(model)), Path(str(model).rstrip("/")).name
    config = ConvBertConfig.from_pretrained(model_dir)
    task = options.task or task_of(config).value
    log(
        f"== {title}: {model_dir} · {task} · {config.num_hidden_layers} layers, "
        f"hidden {config.hidden_size}"
    )
    ctx = BuildContext(
        model=model,
        model_dir=Path(model_dir),
        task=task,
        seq_len=options.seq_len,
        cache_dir=options.cache_dir,
        root=options.cache_dir / "report-artifacts" / f"{model_name}-s{options.seq_len}",
        model_name=model_name,
        rebuild=options.rebuild,
        calibration=options.calibration,
        calibration_samples=options.calibration_samples,
        log=log,
        calls=_calls_for(
            Path(model_dir),
            task,
            options.seq_len,
            options.calibration_samples,
            options.cache_dir,
            options.calibration,
        ),
    )
    rows, specs, reuses = _build_all(names, ctx, log, reuse_exports)
    notes = _qat_notes(specs)
    section = Section(
        title,
        model_name,
        task,
        options.seq_len,
        model_flops(config, options.seq_len),
        largest_linear(config, options.seq_len),
        rows,
    )
    section.notes.extend(notes)
    section.reuse = reuses
    if accuracy and specs:
        _score_all(section, specs, ctx, options, log)
    call = ctx.calls()[0]
    if specs:
        _time_all(section, specs, call, options, log)
        if options.gemm_limit:
            runtimes = {v.runtime for v in section.variants if v.available} - {"torch"}
            _gemm(section, options.threads, tuple(sorted(runtimes)), gemm_cache, log)
    section.ratios = acceptance_ratios(section)
    missed = _missed_speed_runtimes(section) if specs and not options.gemm_limit else ()
    if missed:
        # Quick mode skips the GEMM probes; a missed speed line gets them, so that its
        # verdict says whether this CPU allows the line at all (results.gemm_ceiling).
        # A line misses only if it was measured, at ACCEPTANCE_THREADS.
        log("[gemm] a speed line missed: probing whether this CPU's int8 GEMMs allow it")
        _gemm(section, (ACCEPTANCE_THREADS,), missed, gemm_cache, log)
        section.ratios = acceptance_ratios(section)
    return section


def shape_checkpoint(preset: str, cache_dir: Path) -> str:
    """A random-weight sequence classifier of a preset's shape (seed 0), cached."""
    import torch

    from convbert_edge.config import ConvBertConfig
    from convbert_edge.torch_stack import ConvBertForSequenceClassification

    directory = cache_dir / "models" / f"random-{preset}"
    if not (directory / "config.json").is_file():
        torch.manual_seed(0)
        config = ConvBertConfig.preset(preset, id2label={0: "negative", 1: "positive"})
        ConvBertForSequenceClassification(config).save_pretrained(directory)
    return str(directory)


def run_report(options: ReportOptions, log: Callable[[str], None] = print) -> Report:
    """Measure everything the options ask for and write report.md, .json and .png."""
    from convbert_edge.config import PRESETS

    from .write import write_report

    unknown = [p for p in options.shapes if p not in PRESETS]
    if unknown:
        raise ValueError(f"unknown shapes {unknown}; valid: {', '.join(PRESETS)}")
    start = time.perf_counter()
    names = options.variants or list(VARIANTS)
    if options.skip_peers:
        names = [n for n in names if VARIANTS[n].family != "peer"]
    machine = describe_machine(packages=PACKAGES)
    log(f"machine: {machine.summary()}")
    log(f"mode: {options.describe()}")
    if options.mode != "full":
        log(f"      --full measures every variant, QAT included ({FULL.minutes} min)")
    gemm_cache: dict = {}
    sections = [
        measure_model(
            "model",
            options.model,
            names,
            options,
            gemm_cache,
            accuracy=True,
            reuse_exports=options.reuse_exports,  # the shapes' random weights were never exported
            log=log,
        )
    ]
    for preset in options.shapes:
        shape_names = [n for n in SHAPE_VARIANTS if n in names]
        sections.append(
            measure_model(
                f"shape {preset} (random weights)",
                shape_checkpoint(preset, options.cache_dir),
                shape_names,
                options,
                gemm_cache,
                accuracy=False,
                log=log,
            )
        )
    default_name = sections[0].model
    out = Path(options.out) if options.out else Path("reports") / default_name
    report = Report(machine, options, sections, time.perf_counter() - start, out)
    write_report(report)
    log(f"wrote {out}/report.md, report.json, report.png in {report.seconds / 60:.1f} min")
    return report


__all__ = ["Report", "ReportOptions", "measure_model", "run_report"]
