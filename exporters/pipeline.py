"""The export pipeline: checkpoint -> model stack -> quantize -> convert -> artifact -> verify.

``export(ExportOptions(...))`` is everything ``python -m convbert_edge.export`` does, as a
straight line of steps; each step reports its progress and duration through ``log``.
"""

from __future__ import annotations

import dataclasses
import platform
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from convbert_edge.cache import default_cache_dir
from convbert_edge.checkpoint import resolve_model_dir
from convbert_edge.config import ConvBertConfig
from convbert_edge.distributed import Distributed
from convbert_edge.errors import ExportError
from convbert_edge.io_utils import atomic_write_bytes, atomic_write_text
from convbert_edge.quantize.recipes import INT8_SCOPES, recipe_for
from convbert_edge.runtime.golden import GoldenBundle
from convbert_edge.runtime.manifest import (
    GOLDEN_NAME,
    MANIFEST_NAME,
    Manifest,
    TensorSpec,
    sha256_file,
)
from convbert_edge.runtime.verify import VerifyResult, verify_artifact
from convbert_edge.targets import MODEL_FILES, Quantization, Target
from convbert_edge.tasks import HF_ARCHITECTURES, INPUT_NAMES, Task

from .artifact import staged_artifact
from .inputs import load_texts, stack_calls, task_batches
from .selection import check_qat, choose_within_budget
from .spec import offer, qat_targets, tolerance_for
from .stacks import KerasStack, QatSettings, TorchStack


@dataclass
class ExportOptions:
    """What to export and how; the CLI's flags, one field each.

    Args:
        target: tflite, executorch or onnx.
        quantization: fp32, fp16, dynamic-int8, int8 or int16x8 (not every target has all).
        model: checkpoint directory or hub id; None exports the embedded default model.
        task: which head; None takes the checkpoint's own (its config's architectures).
        seq_len / batch / num_choices: the static input shape.
        calibration: data set name or text file for calibration (real texts).
        calibration_samples: texts used to calibrate static int8 (at least 200).
        golden_samples: texts in the golden bundle.
        io_dtype: float32 or int8 model outputs for full-int8 TFLite.
        out: artifact directory; defaults to artifacts/<model>-<target>-<quantization>.
        cache_dir: where data sets and the default model are cached.
        threads: CPU threads for verification.
        qat: int8 by quantization-aware training: the model is fine-tuned under int8
            fake quantization to agree with its own fp32 outputs (self-distillation on
            unlabelled training texts of the calibration source), then converted.
        qat_steps / qat_accumulate / qat_lr: optimizer steps, texts per step, peak
            learning rate of that fine-tuning (steps x accumulate texts are visited);
            None takes the target's default from the export spec (spec.SPEC).
        qat_fallback: with qat, score the QAT model and post-training int8 on the
            labelled dev split of ``calibration`` and ship post-training int8 when QAT
            scored below it (selection.check_qat; recorded in the manifest).
        max_accuracy_drop: with int8, pick the fastest recipe whose task metric on the
            labelled dev split of ``calibration`` drops at most this many points below
            fp32: all int8, else the most sensitive layers kept float
            (quantize.mixed_precision), else fp32.
        selection_samples: dev examples that recipe selection scores.
        int8_scope: TFLite int8 only: "linear" (int8 linear layers, depthwise convolution
            and embedding table, the rest float: the fastest int8 on CPU runtimes within
            the accuracy budget) or "all" (the integer-only model that NPU, DSP and Edge
            TPU delegates need); None takes "linear", or "all" with int8 outputs
            (io_dtype "int8"). Recipe.int8_scope; the manifest's recipe records it.
        distributed: torchrun's rank (convbert_edge.launch): ExecuTorch QAT is shared by
            the ranks and the others end after it; None: one process.
    """

    target: Target
    quantization: Quantization = Quantization.FP32
    model: str | None = None
    task: Task | None = None
    seq_len: int = 128
    batch: int = 1
    num_choices: int = 4
    calibration: str | None = None
    calibration_samples: int = 256
    golden_samples: int = 32
    io_dtype: str = "float32"
    out: Path | None = None
    cache_dir: Path = field(default_factory=default_cache_dir)
    threads: int = 2
    qat: bool = False
    qat_steps: int | None = None
    qat_accumulate: int | None = None
    qat_lr: float | None = None
    qat_fallback: bool = True
    max_accuracy_drop: float | None = None
    selection_samples: int = 500
    int8_scope: str | None = None
    distributed: Distributed | None = None

    def __post_init__(self) -> None:
        self.target = Target.parse(self.target)
        self.quantization = Quantization.parse(self.quantization)
        if self.task is not None:
            self.task = Task.parse(self.task)
        for name in ("seq_len", "batch", "num_choices", "golden_samples", "threads"):
            if getattr(self, name) < 1:
                raise ExportError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.seq_len < 8:
            raise ExportError(f"seq_len {self.seq_len} is too short; use at least 8")
        spec = offer(self.target, self.quantization)
        if self.int8_scope is None:  # the spec's default scope; "all" for int8 outputs
            self.int8_scope = (
                spec.int8_scopes[0] if spec.int8_scopes and self.io_dtype == "float32" else "all"
            )
        if self.int8_scope not in INT8_SCOPES:
            raise ExportError(f"int8_scope {self.int8_scope!r}: choose one of {INT8_SCOPES}")
        if self.int8_scope != "all" and self.int8_scope not in spec.int8_scopes:
            raise ExportError(
                "--int8-scope is a TFLite int8 option (ExecuTorch int8 quantizes the linear "
                "layers only already)"
            )
        if self.qat:
            if self.quantization is not Quantization.INT8:
                raise ExportError(
                    f"QAT makes full-int8 artifacts; --qat goes with --int8, not "
                    f"{self.quantization.value}"
                )
            if spec.qat is None:
                raise ExportError(
                    f"QAT is offered for {', '.join(t.value for t in qat_targets())}, "
                    f"not {self.target.value}"
                )
            for name, default in zip(
                ("qat_steps", "qat_accumulate", "qat_lr"),
                (spec.qat.steps, spec.qat.accumulate, spec.qat.lr),
                strict=True,
            ):
                if getattr(self, name) is None:
                    setattr(self, name, default)
            for name in ("qat_steps", "qat_accumulate"):
                if getattr(self, name) < 1:
                    raise ExportError(f"{name} must be at least 1, got {getattr(self, name)}")
            if not self.qat_lr > 0:
                raise ExportError(f"qat_lr must be positive, got {self.qat_lr}")
        if self.max_accuracy_drop is not None:
            if self.quantization is not Quantization.INT8 or self.qat:
                raise ExportError(
                    "--max-accuracy-drop chooses among post-training int8 recipes: use it "
                    "with --int8 and without --qat"
                )
            if self.target not in qat_targets():  # the targets whose int8 can be simulated
                raise ExportError("--max-accuracy-drop is offered for tflite and executorch")
            if self.max_accuracy_drop < 0:
                raise ExportError(
                    f"max_accuracy_drop is in points and at least 0, got {self.max_accuracy_drop}"
                )


@dataclass
class ExportResult:
    directory: Path
    manifest: Manifest
    verify: VerifyResult
    seconds: float


_ARCHITECTURE_TASKS = {name: task for task, name in HF_ARCHITECTURES.items()}

# Why each TFLite int8 scope is built; the manifest's recipe notes carry it.
SCOPE_NOTES: dict[str, str] = {
    "linear": "linear scope: int8 linear layers, depthwise convolution and embedding table, "
    "LayerNorm/softmax/GELU in float; the fastest int8 on CPU runtimes within the accuracy "
    "budget (docs/report); --int8-scope all gives the integer-only model",
    "all": "integer-only: every op the converter can run in int8, as NPU, DSP and Edge TPU "
    "delegates need; slower than the linear scope on CPU runtimes (docs/report)",
}

SCOPE_BRIEF: dict[str, str] = {
    "linear": "the fastest int8 on CPU runtimes; --int8-scope all for the integer-only model",
    "all": "the integer-only model, for NPU/DSP/Edge TPU delegates",
}

def task_of(config: ConvBertConfig) -> Task:
    """The head a checkpoint was saved with (its config's architectures), else the base model."""
    for arch in config.extra.get("architectures") or ():
        if arch in _ARCHITECTURE_TASKS:
            return _ARCHITECTURE_TASKS[arch]
    return Task.BASE


class _Steps:
    """Numbered progress lines with durations: '[2/7] tokenizing ... 0.4 s'."""

    def __init__(self, total: int, log: Callable[[str], None]):
        self.total, self.n, self.log = total, 0, log

    def __call__(self, what: str):
        self.n += 1
        self.log(f"[{self.n}/{self.total}] {what} ...")
        return _Timer(self.log)


class _Timer:
    def __init__(self, log):
        self.log = log

    def __enter__(self):
        self.t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.log(f"      done in {time.perf_counter() - self.t:.1f} s")


def export(options: ExportOptions, log: Callable[[str], None] = print) -> ExportResult:
    """Export one artifact, verify it, and publish it; returns where it is and the verdict.

    Everything is written and verified in a staging directory beside the destination
    (exporters/artifact.py): a verified artifact is published at ``out``, one outside its
    tolerance at ``out.failed`` (``out`` keeps what it held), and nothing that this tool
    did not write is ever replaced; that is checked before any work is done.
    """
    with ExitStack() as cleanup:
        return _export(options, log, cleanup)


def _export(o: ExportOptions, log: Callable[[str], None], cleanup: ExitStack) -> ExportResult:
    from convbert_edge.default_model import DEFAULT_LABEL, DEFAULT_NAME, default_checkpoint
    from convbert_edge.tokenizer import ConvBertTokenizerFast

    start = time.perf_counter()
    # resolve, tokenize, build, reference, convert, write, verify; with --qat also train
    # and (with the fallback) check
    step = _Steps(7 + (1 + o.qat_fallback if o.qat else 0), log)
    recipe = recipe_for(o.quantization)
    if recipe.activations == "static":
        recipe = recipe_for(
            o.quantization,
            calibration_samples=o.calibration_samples,
            **(
                {"io_dtype": o.io_dtype, "int8_scope": o.int8_scope}
                if o.quantization is Quantization.INT8
                else {}
            ),
        )
        if offer(o.target, o.quantization).int8_scopes:  # the spec says scopes apply
            recipe = dataclasses.replace(recipe, notes=(*recipe.notes, SCOPE_NOTES[o.int8_scope]))
            log(f"int8 scope: {o.int8_scope} ({SCOPE_BRIEF[o.int8_scope]})")
        if o.calibration_samples < 200:
            log(f"note: calibrating on {o.calibration_samples} texts; 200 or more are recommended")

    staging = cleanup.enter_context(staged_artifact(o.out)) if o.out else None
    with step("resolving the checkpoint"):
        if o.model is None:
            log(f"      no --model given: using the embedded default, {DEFAULT_LABEL}")
            model_dir = default_checkpoint()
            model_name = DEFAULT_NAME
        else:
            model_dir = resolve_model_dir(o.model)
            model_name = Path(str(o.model).rstrip("/")).name
        config = ConvBertConfig.from_pretrained(model_dir)
        task = o.task or task_of(config)
        if o.seq_len > config.max_position_embeddings:
            raise ExportError(
                f"--seq-len {o.seq_len} is longer than this model's position table "
                f"(max_position_embeddings {config.max_position_embeddings}): use at most "
                f"{config.max_position_embeddings}"
            )
        log(
            f"      {model_dir} · task {task.value} · {config.num_hidden_layers} layers, "
            f"hidden {config.hidden_size}"
        )
    if staging is None:  # the default name; selection may still add "-mixed" to it
        staging = cleanup.enter_context(
            staged_artifact(_default_out(model_name, task, o.target, recipe, o.qat))
        )

    with step("tokenizing calibration and golden texts"):
        has_vocab = (Path(model_dir) / "vocab.txt").is_file()
        if not has_vocab and o.model is not None:
            log(
                f"      note: {model_dir} has no vocab.txt; using the shipped vocabulary "
                "(bert-base-uncased's, the public ConvBERT checkpoints' own). If the model "
                "was trained with another, put its vocab.txt in that directory"
            )
        tokenizer = ConvBertTokenizerFast.from_pretrained(model_dir if has_vocab else None)
        if tokenizer.vocab_size != config.vocab_size:
            raise ExportError(
                f"the vocabulary has {tokenizer.vocab_size} tokens but the model was trained with "
                f"{config.vocab_size}: put the checkpoint's own vocab.txt in {model_dir}"
            )
        per_call = o.batch * (
            {Task.MULTIPLE_CHOICE: o.num_choices + 1, Task.QUESTION_ANSWERING: 2}.get(task, 1)
        )
        golden_texts = load_texts(
            o.calibration, o.golden_samples * per_call // o.batch, "test", o.cache_dir
        )
        golden_calls = task_batches(
            tokenizer, golden_texts, task, o.batch, o.seq_len, o.num_choices
        )
        calib_calls = []
        if recipe.activations == "static":
            calib_texts = load_texts(
                o.calibration, o.calibration_samples * per_call // o.batch, "train", o.cache_dir
            )
            calib_calls = task_batches(
                tokenizer, calib_texts, task, o.batch, o.seq_len, o.num_choices
            )
        qat_calls = []
        if o.qat:
            # Training texts for the student: as many as it visits, up to the whole split.
            wanted = o.qat_steps * o.qat_accumulate * per_call // o.batch
            qat_texts = load_texts(o.calibration, wanted, "train", o.cache_dir, allow_fewer=True)
            qat_calls = task_batches(tokenizer, qat_texts, task, o.batch, o.seq_len, o.num_choices)
        log(
            f"      {len(golden_calls)} golden calls, {len(calib_calls)} calibration calls"
            + (f", {len(qat_calls)} QAT training calls" if o.qat else "")
        )

    with step(f"building the {'Keras' if o.target is Target.TFLITE else 'PyTorch'} model"):
        stack = (
            KerasStack(model_dir, task)
            if o.target is Target.TFLITE
            else TorchStack(model_dir, task)
        )

    with step("computing fp32 reference outputs"):
        reference = stack_calls([stack.run(call) for call in golden_calls])
        for name, values in reference.items():
            if not np.isfinite(values).all():
                raise ExportError(
                    f"the fp32 model gives non-finite values (NaN or inf) in {name!r} on the "
                    f"golden texts: the checkpoint {model_dir} is broken; check its weights "
                    "and config"
                )

    if o.max_accuracy_drop is not None:
        log(f"      choosing a recipe within {o.max_accuracy_drop} points of fp32 ...")
        choice = choose_within_budget(
            stack, o.target, recipe, calib_calls, tokenizer, config.num_hidden_layers, o, log
        )
        recipe = choice.chosen.recipe
    quantization = Quantization.parse(recipe.quantization)  # fp32 when selection said so

    if o.qat:
        recipe = dataclasses.replace(
            recipe,
            notes=(
                *recipe.notes,
                f"quantization-aware training: {o.qat_steps} steps x {o.qat_accumulate} texts, "
                f"lr {o.qat_lr}, self-distillation from the fp32 model",
            ),
        )
    qat_check, ship_qat = None, o.qat
    if o.qat:
        settings = QatSettings(
            o.qat_steps, o.qat_accumulate, o.qat_lr, qat_calls, log, o.distributed
        )
        with step(f"quantization-aware training for {o.target.value}"):
            stack.train_qat(recipe, golden_calls[0], calib_calls, settings)
        if o.qat_fallback:
            with step("checking QAT against post-training int8 on labelled dev data"):
                qat_check = check_qat(stack, recipe, calib_calls, tokenizer, o, log)
        if qat_check is not None:
            recipe = dataclasses.replace(recipe, notes=(*recipe.notes, qat_check.summary()))
            ship_qat = qat_check.shipped == "qat"
    with step(f"converting to {o.target.value} {quantization.value}{' (QAT)' if ship_qat else ''}"):
        model_bytes, float_ops = stack.convert(
            o.target, recipe, golden_calls[0], calib_calls, qat=ship_qat
        )
        log(f"      {len(model_bytes) / 1e6:.1f} MB")

    out = Path(o.out) if o.out else _default_out(model_name, task, o.target, recipe, o.qat)
    tmp = staging.tmp
    with step(f"writing the artifact (staged in {tmp.parent})"):
        model_file = MODEL_FILES[o.target]
        atomic_write_bytes(tmp / model_file, model_bytes)
        tokenizer.save_pretrained(tmp)
        golden = GoldenBundle(
            inputs=stack_calls(golden_calls),
            outputs=reference,
            tolerance=tolerance_for(o.target, quantization),
            texts=golden_texts,
        )
        golden.save(tmp / GOLDEN_NAME)
        manifest = Manifest(
            task=task.value,
            target=o.target.value,
            quantization=quantization.value,
            model_file=model_file,
            model_sha256=sha256_file(tmp / model_file),
            golden_sha256=sha256_file(tmp / GOLDEN_NAME),
            seq_len=o.seq_len,
            batch=o.batch,
            inputs=[TensorSpec(n, "int32", tuple(golden_calls[0][n].shape)) for n in INPUT_NAMES],
            outputs=_output_specs(o.target, tmp / model_file, reference),
            labels=[config.id2label[i] for i in sorted(config.id2label)]
            if task in (Task.SEQUENCE_CLASSIFICATION, Task.TOKEN_CLASSIFICATION)
            else [],
            recipe=recipe.as_dict(),
            float_ops=float_ops,
            source={
                "checkpoint": str(model_dir),
                "model": model_name,
                "default_model": DEFAULT_LABEL if o.model is None else None,
                "vocab_sha256": sha256_file(tmp / "vocab.txt"),
                "vocab": "checkpoint" if has_vocab else "shipped (the checkpoint has none)",
                "calibration": o.calibration or "movie_reviews",
                "qat": o.qat,
                "qat_check": qat_check.as_dict() if qat_check is not None else None,
            },
            tools=_tool_versions(o.target),
            vocab_size=config.vocab_size,
            type_vocab_size=config.type_vocab_size,
        )
        atomic_write_text(tmp / MANIFEST_NAME, manifest.to_json())

    with step("verifying against the fp32 reference"):
        result = verify_artifact(tmp, threads=o.threads)
    final = dataclasses.replace(staging, out=out).publish(verified=result.passed)
    result = dataclasses.replace(result, directory=str(final))
    log(result.table())
    scope = f" ({recipe.int8_scope} scope)" if offer(o.target, quantization).int8_scopes else ""
    if result.passed:
        log(f"PASS · {final} · {quantization.value}{scope}")
    else:
        log(f"FAIL: outside tolerance · kept for inspection at {final}; {out} was not changed")
    return ExportResult(final, manifest, result, time.perf_counter() - start)


def _default_out(model_name: str, task: Task, target: Target, recipe, qat: bool) -> Path:
    """artifacts/<model>-<task>-<target>-<quantization>[-linear][-qat][-mixed]."""
    return Path("artifacts") / (
        f"{model_name}-{task.value}-{target.value}-{recipe.quantization}"
        f"{'-linear' if recipe.int8_scope == 'linear' else ''}{'-qat' if qat else ''}"
        f"{'-mixed' if recipe.float_layers else ''}"
    )


def _output_specs(
    target: Target, model_path: Path, reference: dict[str, np.ndarray]
) -> list[TensorSpec]:
    """Output names, dtypes and shapes; int8 outputs of a TFLite model carry their scale."""
    quant: dict[str, tuple[str, float | None, int | None]] = {}
    if target is Target.TFLITE:
        from ai_edge_litert.interpreter import Interpreter

        runner = Interpreter(model_path=str(model_path)).get_signature_runner()
        for name, d in runner.get_output_details().items():
            scale, zero = d["quantization"]
            is_int = np.issubdtype(d["dtype"], np.integer)
            quant[name] = (
                np.dtype(d["dtype"]).name,
                float(scale) if is_int else None,
                int(zero) if is_int else None,
            )
    specs = []
    for name, ref in reference.items():
        dtype, scale, zero = quant.get(name, ("float32", None, None))
        specs.append(TensorSpec(name, dtype, tuple(ref.shape[1:]), scale, zero))
    return specs


def _tool_versions(target: Target) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    packages = {
        Target.TFLITE: ("tensorflow", "keras", "ai-edge-litert"),
        Target.EXECUTORCH: ("torch", "executorch", "torchao"),
        Target.ONNX: ("torch", "onnx", "onnxruntime", "onnxscript"),
    }[target]
    out = {"python": platform.python_version()}
    for p in ("convbert-edge", "numpy", "tokenizers", *packages):
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = "not installed"
    return out
