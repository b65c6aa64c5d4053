"""The export pipeline: checkpoint -> model stack -> quantize -> convert -> artifact -> verify.

``export(ExportOptions(...))`` is everything ``python -m convbert_edge.export`` does.
``_export`` reads as the list of its stages: each a function of this module that takes
typed inputs and returns a typed result (``Source``, ``Texts``, a ``ModelStack``,
``Converted``, ``Manifest``, ``VerifyResult``) handed explicitly to the stages after it.
``STAGES`` declares the numbered ones with their titles and the options they run for;
the '[k/n] ...' progress lines and durations come from it (exporters/progress.py).
"""

from __future__ import annotations

import dataclasses
import platform
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from convbert_edge.checkpoint import resolve_model_dir
from convbert_edge.config import ConvBertConfig
from convbert_edge.errors import ExportError
from convbert_edge.io_utils import atomic_write_bytes, atomic_write_text
from convbert_edge.quantize.recipes import Recipe, recipe_for
from convbert_edge.runtime.cpu import int8_pairs_saturate, this_cpu_flags
from convbert_edge.runtime.crash_guard import Child
from convbert_edge.runtime.golden import GoldenBundle
from convbert_edge.runtime.manifest import (
    GOLDEN_NAME,
    MANIFEST_NAME,
    Manifest,
    TensorSpec,
    checkpoint_hashes,
    sha256_file,
)
from convbert_edge.runtime.verify import VerifyResult, verify_artifact
from convbert_edge.targets import MODEL_FILES, Quantization, Target
from convbert_edge.tasks import HF_ARCHITECTURES, INPUT_NAMES, Task

from . import selection
from .artifact import Staging, staged_artifact
from .inputs import DEFAULT_TEXTS, load_texts, stack_calls, task_batches
from .options import ExportOptions
from .progress import Progress, Stage
from .selection import QatCheck
from .spec import offer, tolerance_for
from .stacks import Call, Converted, KerasStack, ModelStack, Outputs, QatSettings, TorchStack

if TYPE_CHECKING:
    from convbert_edge.tokenizer import ConvBertTokenizerFast


@dataclass
class ExportResult:
    directory: Path
    manifest: Manifest
    verify: VerifyResult
    seconds: float


_ARCHITECTURE_TASKS = {name: task for task, name in HF_ARCHITECTURES.items()}

# Why ONNX dynamic int8 gets 7-bit weights on some CPUs (runtime.cpu); the manifest's
# recipe notes carry it.
SEVEN_BIT_NOTE = (
    "this CPU has no int8 dot product (VNNI), where ONNX Runtime adds pairs of uint8 x int8 "
    "products in int16 with saturation; 7-bit weights cannot overflow it (reduce_range)"
)

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


Log = Callable[[str], None]


@dataclass(frozen=True)
class Source:
    """``resolve``'s result: the checkpoint and what its config says.

    Args:
        model_dir: the checkpoint directory (a hub id resolved, or the embedded default).
        name: the first part of the default artifact name: the directory's name, or
            the default model's.
        config: its config.
        task: the head exported: --task, else the checkpoint's own.
        default: no --model was given (the embedded default model).
    """

    model_dir: Path
    name: str
    config: ConvBertConfig
    task: Task
    default: bool


@dataclass(frozen=True)
class Texts:
    """``tokenize``'s result: the tokenizer and the calls the later stages run.

    Args:
        tokenizer: the checkpoint's vocabulary, or the shipped one (``has_vocab`` False).
        has_vocab: the checkpoint has its own vocab.txt.
        golden_texts / golden: the golden bundle's texts and their calls.
        calibration: static int8's calibration calls ([] for other recipes).
        qat: QAT's training calls ([] without --qat).
    """

    tokenizer: ConvBertTokenizerFast
    has_vocab: bool
    golden_texts: list[str]
    golden: list[Call]
    calibration: list[Call]
    qat: list[Call]


# The stack that feeds each target.
STACKS: dict[Target, type[TorchStack] | type[KerasStack]] = {
    Target.TFLITE: KerasStack,
    Target.EXECUTORCH: TorchStack,
    Target.ONNX: TorchStack,
}


def export(options: ExportOptions, log: Log = print) -> ExportResult:
    """Export one artifact, verify it, and publish it; returns where it is and the verdict.

    Everything is written and verified in a staging directory beside the destination
    (exporters/artifact.py): a verified artifact is published at ``out``, one outside its
    tolerance at ``out.failed`` (``out`` keeps what it held), and nothing that this tool
    did not write is ever replaced; that is checked before any work is done.
    """
    with ExitStack() as cleanup:
        return _export(options, log, cleanup)


def _export(o: ExportOptions, log: Log, cleanup: ExitStack) -> ExportResult:
    """The stages in order; ``step`` numbers those of STAGES (and skips what they skip)."""
    start = time.perf_counter()
    recipe = plan_recipe(o, log)
    staging = cleanup.enter_context(staged_artifact(o.out)) if o.out else None
    with Progress(STAGES, o, log) as step:
        source = step(resolve, o, log)
        if staging is None:  # the default name; selection may still add "-mixed" to it
            out = default_out(o, source.name, source.task, recipe)
            staging = cleanup.enter_context(staged_artifact(out))
        texts = step(tokenize, o, source, recipe, log)
        stack = step(build, o, source)
        reference = step(fp32_reference, stack, texts, source)
        recipe = select_recipe(o, stack, recipe, texts, source, log)
        trained = step(train_qat, o, stack, recipe, texts, log)  # None without --qat
        check = step(check_qat, o, stack, trained, recipe, texts, log)
        recipe, shipped = qat_verdict(recipe, trained, check)
        # verification's child, started now: it imports the runtime while we convert
        child = cleanup.enter_context(Child(preload=o.target))
        converted = step(convert, o, stack, recipe, texts, shipped, log)
        manifest = step(
            write_artifact, o, staging.tmp, source, texts, reference, recipe, converted, check
        )
        verified = step(verify, o, staging.tmp, child)
    final, verified = publish(o, staging, source, recipe, verified, log)
    return ExportResult(final, manifest, verified, time.perf_counter() - start)


def plan_recipe(o: ExportOptions, log: Log) -> Recipe:
    """The recipe the options ask for: its int8 scope and why, and with --qat how it is
    trained (recipe selection may still replace it; --qat excludes selection)."""
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
    if (
        o.target is Target.ONNX
        and o.quantization is Quantization.DYNAMIC_INT8
        and int8_pairs_saturate(this_cpu_flags())
    ):
        recipe = dataclasses.replace(recipe, weight_bits=7, notes=(*recipe.notes, SEVEN_BIT_NOTE))
        log(f"weights in 7 bits: {SEVEN_BIT_NOTE}")
    if o.qat:
        recipe = dataclasses.replace(
            recipe,
            notes=(
                *recipe.notes,
                f"quantization-aware training: {o.qat_steps} steps x {o.qat_accumulate} texts, "
                f"lr {o.qat_lr}, self-distillation from the fp32 model",
            ),
        )
    return recipe


def resolve(o: ExportOptions, log: Log) -> Source:
    """The checkpoint directory (--model, else the embedded default) and its config."""
    from convbert_edge.default_model import DEFAULT_LABEL, DEFAULT_NAME, default_checkpoint

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
    return Source(model_dir, model_name, config, task, default=o.model is None)


def tokenize(o: ExportOptions, source: Source, recipe: Recipe, log: Log) -> Texts:
    """The golden texts and, as the recipe and --qat need them, calibration and QAT
    training texts, tokenized at the export shape."""
    from convbert_edge.tokenizer import checkpoint_tokenizer
    from convbert_edge.tokenizer_files import checkpoint_vocab_dir

    model_dir, config, task = source.model_dir, source.config, source.task
    has_vocab = checkpoint_vocab_dir(model_dir) is not None
    if not has_vocab and not source.default:
        log(
            f"      note: {model_dir} has no vocab.txt; using the shipped vocabulary "
            "(bert-base-uncased's, the public ConvBERT checkpoints' own). If the model "
            "was trained with another, put its vocab.txt in that directory"
        )
    tokenizer = checkpoint_tokenizer(model_dir)
    if tokenizer.vocab_size != config.vocab_size:
        raise ExportError(
            f"the vocabulary has {tokenizer.vocab_size} tokens but the model was trained with "
            f"{config.vocab_size}: put the checkpoint's own vocab.txt in {model_dir}"
        )
    per_call = o.batch * (
        {Task.MULTIPLE_CHOICE: o.num_choices + 1, Task.QUESTION_ANSWERING: 2}.get(task, 1)
    )

    def calls(texts: list[str]) -> list[Call]:
        return task_batches(tokenizer, texts, task, o.batch, o.seq_len, o.num_choices)

    golden_texts = load_texts(
        o.calibration, o.golden_samples * per_call // o.batch, "test", o.cache_dir
    )
    golden_calls = calls(golden_texts)
    calib_calls = []
    if recipe.activations == "static":
        wanted = o.calibration_samples * per_call // o.batch
        calib_calls = calls(load_texts(o.calibration, wanted, "train", o.cache_dir))
    qat_calls = []
    if o.qat:
        # Training texts for the student: as many as it visits, up to the whole split.
        wanted = o.qat_steps * o.qat_accumulate * per_call // o.batch
        qat_calls = calls(load_texts(o.calibration, wanted, "train", o.cache_dir, allow_fewer=True))
    log(
        f"      {len(golden_calls)} golden calls, {len(calib_calls)} calibration calls"
        + (f", {len(qat_calls)} QAT training calls" if o.qat else "")
    )
    return Texts(tokenizer, has_vocab, golden_texts, golden_calls, calib_calls, qat_calls)


def build(o: ExportOptions, source: Source) -> ModelStack:
    """The fp32 model, in the stack that feeds the target (STACKS)."""
    return STACKS[o.target](source.model_dir, source.task)


def fp32_reference(stack: ModelStack, texts: Texts, source: Source) -> Outputs:
    """The fp32 outputs on the golden calls, stacked; refused when not all finite."""
    reference = stack_calls([stack.run(call) for call in texts.golden])
    for name, values in reference.items():
        if not np.isfinite(values).all():
            raise ExportError(
                f"the fp32 model gives non-finite values (NaN or inf) in {name!r} on the "
                f"golden texts: the checkpoint {source.model_dir} is broken; check its weights "
                "and config"
            )
    return reference


def select_recipe(
    o: ExportOptions, stack: ModelStack, recipe: Recipe, texts: Texts, source: Source, log: Log
) -> Recipe:
    """With --max-accuracy-drop, the fastest recipe within it (selection.py); else ``recipe``."""
    if o.max_accuracy_drop is None:
        return recipe
    log(f"      choosing a recipe within {o.max_accuracy_drop} points of fp32 ...")
    choice = selection.choose_within_budget(
        stack, o.target, recipe, texts.calibration, texts.tokenizer,
        source.config.num_hidden_layers, o, log,
    )  # fmt: skip
    return choice.chosen.recipe


def train_qat(o: ExportOptions, stack: ModelStack, recipe: Recipe, texts: Texts, log: Log):
    """--qat: a QAT-trained copy of the fp32 model (the stack's own frozen type)."""
    settings = QatSettings(o.qat_steps, o.qat_accumulate, o.qat_lr, texts.qat, log, o.distributed)
    return stack.train_qat(recipe, texts.golden[0], texts.calibration, settings)


def check_qat(
    o: ExportOptions, stack: ModelStack, trained, recipe: Recipe, texts: Texts, log: Log
) -> QatCheck | None:
    """QAT against post-training int8 on labelled dev data; None when there is none."""
    return selection.check_qat(stack, trained, recipe, texts.calibration, texts.tokenizer, o, log)


def qat_verdict(recipe: Recipe, trained, check: QatCheck | None) -> tuple[Recipe, object]:
    """The recipe with the QAT check's verdict in its notes, and the QAT model to ship:
    ``trained``, or None (post-training int8) when the check chose that."""
    if check is None:
        return recipe, trained
    recipe = dataclasses.replace(recipe, notes=(*recipe.notes, check.summary()))
    return recipe, trained if check.shipped == "qat" else None


def convert(
    o: ExportOptions, stack: ModelStack, recipe: Recipe, texts: Texts, qat, log: Log
) -> Converted:
    """The target's model file: ``recipe`` after training, or the QAT model ``qat``."""
    converted = stack.convert(o.target, recipe, texts.golden[0], texts.calibration, qat=qat)
    log(f"      {len(converted.model) / 1e6:.1f} MB")
    return converted


def write_artifact(
    o: ExportOptions,
    tmp: Path,
    source: Source,
    texts: Texts,
    reference: Outputs,
    recipe: Recipe,
    converted: Converted,
    check: QatCheck | None,
) -> Manifest:
    """The model file, tokenizer files, golden bundle and manifest, written into ``tmp``."""
    from convbert_edge.default_model import DEFAULT_LABEL

    config, task = source.config, source.task
    quantization = Quantization.parse(recipe.quantization)
    model_file = MODEL_FILES[o.target]
    atomic_write_bytes(tmp / model_file, converted.model)
    texts.tokenizer.save_pretrained(tmp)
    golden = GoldenBundle(
        inputs=stack_calls(texts.golden),
        outputs=reference,
        tolerance=tolerance_for(o.target, quantization),
        texts=texts.golden_texts,
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
        inputs=[TensorSpec(n, "int32", tuple(texts.golden[0][n].shape)) for n in INPUT_NAMES],
        outputs=_output_specs(o.target, tmp / model_file, reference),
        labels=[config.id2label[i] for i in sorted(config.id2label)]
        if task in (Task.SEQUENCE_CLASSIFICATION, Task.TOKEN_CLASSIFICATION)
        else [],
        recipe=recipe.as_dict(),
        float_ops=converted.float_ops,
        source={
            "checkpoint": str(source.model_dir),
            "checkpoint_sha256": checkpoint_hashes(source.model_dir),
            "model": source.name,
            "default_model": DEFAULT_LABEL if source.default else None,
            "vocab_sha256": sha256_file(tmp / "vocab.txt"),
            "vocab": "checkpoint" if texts.has_vocab else "shipped (the checkpoint has none)",
            "calibration": o.calibration or DEFAULT_TEXTS,
            "qat": o.qat,
            "qat_check": check.as_dict() if check is not None else None,
        },
        tools=_tool_versions(o.target),
        vocab_size=config.vocab_size,
        type_vocab_size=config.type_vocab_size,
    )
    atomic_write_text(tmp / MANIFEST_NAME, manifest.to_json())
    return manifest


def verify(o: ExportOptions, tmp: Path, child: Child) -> VerifyResult:
    """The staged artifact against its golden bundle, as ``python -m convbert_edge.verify``,
    run by ``child`` (started just before the conversion, its runtime imported since)."""
    return verify_artifact(tmp, threads=o.threads, child=child)


def publish(
    o: ExportOptions,
    staging: Staging,
    source: Source,
    recipe: Recipe,
    verified: VerifyResult,
    log: Log,
) -> tuple[Path, VerifyResult]:
    """Publish the staged artifact (at ``out`` when it verified, else ``out.failed``) and
    report the verdict; returns where it went and the result naming that directory."""
    out = Path(o.out) if o.out else default_out(o, source.name, source.task, recipe)
    final = dataclasses.replace(staging, out=out).publish(verified=verified.passed)
    verified = dataclasses.replace(verified, directory=str(final))
    log(verified.table())
    quantization = Quantization.parse(recipe.quantization)
    scope = f" ({recipe.int8_scope} scope)" if offer(o.target, quantization).int8_scopes else ""
    if verified.passed:
        log(f"PASS · {final} · {quantization.value}{scope}")
    else:
        log(f"FAIL: outside tolerance · kept for inspection at {final}; {out} was not changed")
    return final, verified


def _converting(o: ExportOptions, _stack, recipe: Recipe, _texts, qat, _log) -> str:
    quantization = Quantization.parse(recipe.quantization).value
    return f"converting to {o.target.value} {quantization}{' (QAT)' if qat is not None else ''}"


# The numbered stages of an export, in the order _export calls them: the '[k/n] ...'
# progress lines come from this table. A title may be a function of the stage's
# arguments; `when` says for which options a stage runs (else it is skipped, uncounted).
STAGES: tuple[Stage, ...] = (
    Stage(resolve, "resolving the checkpoint"),
    Stage(tokenize, "tokenizing calibration and golden texts"),
    Stage(build, lambda o, source: f"building the {STACKS[o.target].label} model"),
    Stage(fp32_reference, "computing fp32 reference outputs"),
    Stage(
        train_qat,
        lambda o, *_: f"quantization-aware training for {o.target.value}",
        when=lambda o: o.qat,
    ),
    Stage(
        check_qat,
        "checking QAT against post-training int8 on labelled dev data",
        when=lambda o: o.qat and o.qat_fallback,
    ),
    Stage(convert, _converting),
    Stage(write_artifact, lambda o, tmp, *_: f"writing the artifact (staged in {tmp.parent})"),
    Stage(verify, "verifying against the fp32 reference"),
)


def default_out(o: ExportOptions, model_name: str, task: Task, recipe: Recipe) -> Path:
    """artifacts/<model>-<task>-<target>-<quantization>[-linear][-qat][-mixed], relative to
    the working directory: where an export without --out goes (the report looks there for
    the artifacts ``make demo`` just exported)."""
    return Path("artifacts") / (
        f"{model_name}-{task.value}-{o.target.value}-{recipe.quantization}"
        f"{'-linear' if recipe.int8_scope == 'linear' else ''}{'-qat' if o.qat else ''}"
        f"{'-mixed' if recipe.float_layers else ''}"
    )


def _output_specs(
    target: Target, model_path: Path, reference: dict[str, np.ndarray]
) -> list[TensorSpec]:
    """Output names, dtypes and shapes; int8 outputs of a TFLite model carry their scale."""
    quant: dict[str, tuple[str, float | None, int | None]] = {}
    if target is Target.TFLITE:
        from convbert_edge.runtime.litert import litert_runner

        runner = litert_runner(model_path)
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
