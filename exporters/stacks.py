"""The two model stacks as the export pipeline drives them: run the fp32 reference,
calibrate and simulate a quantization recipe (recipe selection, the QAT check), train
with QAT, and convert to a target.

``ModelStack`` is the interface; ``TorchStack`` (ExecuTorch and ONNX) and ``KerasStack``
(TFLite) satisfy it. Both take and give the pipeline's calls: dicts of int32 numpy arrays
shaped (batch, seq_len), or (batch, choices, seq_len) for multiple choice.

An adapter holds its task and its fp32 model, both set once, and nothing else. What one
stage makes for a later one (a calibration, a QAT-trained model) is returned as a new
frozen object that the caller hands on, so no result depends on which calls came before
it, and no stage changes the fp32 model (QAT trains a copy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np

from convbert_edge.distributed import Distributed
from convbert_edge.errors import ExportError
from convbert_edge.quantize.recipes import Recipe
from convbert_edge.targets import Target
from convbert_edge.tasks import INPUT_NAMES, OUTPUT_NAMES, Task

if TYPE_CHECKING:
    import torch

    from convbert_edge.keras_stack import ConvBertKerasModel
    from convbert_edge.quantize.torch_qat import QatResult

    from .tflite import TFLiteResult

Call = dict[str, np.ndarray]  # INPUT_NAMES -> int32 (batch, seq_len)
Outputs = dict[str, np.ndarray]  # OUTPUT_NAMES[task] -> (batch, ...)
Runner = Callable[[Call], Outputs]

CalibrationT = TypeVar("CalibrationT")
QatT = TypeVar("QatT")


@dataclass(frozen=True)
class QatSettings:
    """What the stacks need for quantization-aware training (ExportOptions' qat_* fields)."""

    steps: int
    accumulate: int
    lr: float
    calls: Sequence[Call]  # unlabelled training calls at the export shape
    log: Callable[[str], None]
    distributed: Distributed | None = None  # torchrun's rank: ExecuTorch QAT is data-parallel


@dataclass(frozen=True)
class Converted:
    """``convert``'s result: the target's model file and what stays float in it (with why)."""

    model: bytes
    float_ops: list[dict[str, str]]


@runtime_checkable
class ModelStack(Protocol[CalibrationT, QatT]):
    """What the export pipeline asks of a model stack.

    No method changes the stack or its fp32 model. What a stage makes for a later one is
    returned (``CalibrationT`` from ``calibrate``, ``QatT`` from ``train_qat``: each
    stack's own frozen types) and must be handed back explicitly; handing one stack's
    object to another kind of stack is a TypeError.

    Attributes:
        task: the head of the fp32 model.
    """

    task: Task

    def run(self, call: Call) -> Outputs:
        """The fp32 model's outputs for one call: the reference an artifact must meet."""
        ...

    def calibrate(self, calibration: Sequence[Call]) -> CalibrationT:
        """The fp32 model's activation ranges measured on ``calibration`` (at least one
        call), as a new frozen object for ``simulate``; calibrate again for other calls."""
        ...

    def simulate(self, recipe: Recipe, calibration: CalibrationT) -> Runner:
        """A run of the post-training int8 model that ``convert`` ships for ``recipe``,
        quantized from ``calibration`` (``calibrate``'s result) without the cost of
        lowering it: what recipe selection and the QAT check score."""
        ...

    def train_qat(
        self, recipe: Recipe, example: Call, calibration: Sequence[Call], settings: QatSettings
    ) -> QatT:
        """Quantization-aware training of a copy of the fp32 model (its teacher) on
        ``settings.calls`` for ``recipe``; ``example`` fixes the export shape and
        ``calibration`` is what the stack's int8 conversion takes its ranges from, where
        it needs any. Returns the trained copy, for ``qat_run`` and ``convert(qat=)``."""
        ...

    def qat_run(self, trained: QatT) -> Runner:
        """A run of ``trained``'s int8 model, as ``convert(..., qat=trained)`` ships it."""
        ...

    def convert(
        self,
        target: Target,
        recipe: Recipe,
        example: Call,
        calibration: Sequence[Call],
        qat: QatT | None = None,
    ) -> Converted:
        """The model file for ``target``: ``recipe`` applied after training to the fp32
        model (traced at ``example``'s shape, static int8 calibrated on ``calibration``),
        or, given ``qat``, that QAT-trained model, which must have been trained for
        ``recipe`` (its notes aside)."""
        ...


@dataclass(frozen=True)
class TorchCalibration:
    """``TorchStack.calibrate``'s result: the calibration calls as tensors. PT2E records
    ranges in a graph annotated for one recipe (float layers change where observers go),
    so ``simulate`` calibrates each recipe's graph from these calls."""

    calls: tuple[tuple[torch.Tensor, ...], ...]


@dataclass(frozen=True)
class TorchQat:
    """``TorchStack.train_qat``'s result: the trained, converted PT2E graph, not yet lowered
    (quantize.torch_qat.QatResult), and the recipe it was trained for."""

    recipe: Recipe
    result: QatResult


class TorchStack:
    """The PyTorch stack for one task: fp32 reference runs, ExecuTorch and ONNX conversion.

    Example:
        >>> stack = TorchStack(checkpoint_dir, Task.SEQUENCE_CLASSIFICATION)
        >>> run = stack.simulate(recipe, stack.calibrate(calls))  # PT2E int8, eagerly
    """

    label: ClassVar[str] = "PyTorch"

    def __init__(self, model_dir: Path, task: Task):
        import torch

        from convbert_edge.torch_stack import model_class

        self.torch = torch
        self.task = task
        self.model = model_class(task).from_pretrained(model_dir).eval()

    def _args(self, call: Call) -> tuple[torch.Tensor, ...]:
        return tuple(self.torch.from_numpy(call[n]) for n in INPUT_NAMES)

    def run(self, call: Call) -> Outputs:
        with self.torch.no_grad():
            out = self.model(*self._args(call))
        return {k: v.numpy() for k, v in out.items()}

    def calibrate(self, calibration: Sequence[Call]) -> TorchCalibration:
        return TorchCalibration(tuple(self._args(c) for c in _some(calibration)))

    def simulate(self, recipe: Recipe, calibration: TorchCalibration) -> Runner:
        """PT2E's quantize/dequantize graph in eager PyTorch: what the ExecuTorch artifact
        computes, before lowering."""
        from .executorch import quantized_graph

        calls = _handed(calibration, TorchCalibration, "calibrate").calls
        graph, _ = quantized_graph(self.model, calls[0], recipe, calls)
        return self._graph_run(graph)

    def train_qat(
        self, recipe: Recipe, example: Call, calibration: Sequence[Call], settings: QatSettings
    ) -> TorchQat:
        """PT2E QAT for ExecuTorch; it calibrates on the first of ``settings.calls``
        (``calibration`` is for TFLite's conversion)."""
        from convbert_edge.quantize.torch_qat import QatConfig

        from .executorch import train_qat

        config = QatConfig(steps=settings.steps, lr=settings.lr, accumulate=settings.accumulate)
        train = [self._args(c) for c in settings.calls]
        result = train_qat(
            self.model, self._args(example), recipe, train, config, settings.log,
            settings.distributed,
        )  # fmt: skip
        return TorchQat(recipe, result)

    def qat_run(self, trained: TorchQat) -> Runner:
        return self._graph_run(_handed(trained, TorchQat, "train_qat").result.model)

    def convert(
        self,
        target: Target,
        recipe: Recipe,
        example: Call,
        calibration: Sequence[Call],
        qat: TorchQat | None = None,
    ) -> Converted:
        if target is Target.EXECUTORCH:
            from .executorch import export_pte, lower_qat

            if qat is not None:
                trained = _trained_for(qat, TorchQat, recipe)
                result = lower_qat(trained.result, self._args(example), recipe)
            else:
                calls = [self._args(c) for c in calibration]
                result = export_pte(self.model, self._args(example), recipe, calls)
            return Converted(result.program, result.float_ops)
        if qat is not None:
            raise ValueError(f"QAT models are lowered to ExecuTorch, not {target.value}")
        from .onnx import export_onnx

        model = export_onnx(
            self.model, self._args(example), OUTPUT_NAMES[self.task], recipe, calibration
        )
        return Converted(model, [])

    def _graph_run(self, graph) -> Runner:
        def run(call: Call) -> Outputs:
            with self.torch.no_grad():
                return {k: v.numpy() for k, v in graph(*self._args(call)).items()}

        return run


@dataclass(frozen=True)
class KerasCalibration:
    """``KerasStack.calibrate``'s result: the fp32 model converted with every tensor's range
    recorded, not yet quantized (tflite_calibrated.calibrate). ``simulate`` quantizes it
    per recipe in under a second, so one calibration serves every candidate recipe.

    Args:
        calibrated: the reference graph, calibrated (for the linear scope).
        integer: the integer graph (keras_stack.formulation), calibrated: what recipes of
            int8 scope "all" quantize, as ``convert`` does.
    """

    calibrated: bytes
    integer: bytes = b""


@dataclass(frozen=True)
class KerasQat:
    """``KerasStack.train_qat``'s result: the fine-tuned fake-quantized copy of the fp32
    model, its TFLite conversion (made once, with train_qat's calibration), and the
    recipe both were made for."""

    recipe: Recipe
    model: ConvBertKerasModel
    converted: TFLiteResult


class KerasStack:
    """The Keras stack for one task: fp32 reference runs and TFLite conversion.

    Example:
        >>> stack = KerasStack(checkpoint_dir, Task.SEQUENCE_CLASSIFICATION)
        >>> calibrated = stack.calibrate(calls)  # once, for any number of recipes
        >>> runs = [stack.simulate(r, calibrated) for r in recipes]  # LiteRT int8 runs
    """

    label: ClassVar[str] = "Keras"

    def __init__(self, model_dir: Path, task: Task):
        from convbert_edge.keras_stack import model_class_for

        self.task = task
        # The fp32 model: the reference, and what post-training int8 quantizes. Nothing
        # writes to it; QAT trains a copy.
        self.model = model_class_for(task).from_pretrained(model_dir)

    def run(self, call: Call) -> Outputs:
        return {k: np.asarray(v) for k, v in self.model(call, training=False).items()}

    def calibrate(self, calibration: Sequence[Call]) -> KerasCalibration:
        from .tflite_calibrated import calibrate

        calls = _some(calibration)
        # Both graphs: the candidates of one selection share a scope, but calibrate does
        # not know which (one more calibration, paid only by selection and the QAT check).
        return KerasCalibration(
            *(calibrate(_export_model(self.model, calls[0], g), calls) for g in GRAPHS)
        )

    def simulate(self, recipe: Recipe, calibration: KerasCalibration) -> Runner:
        """A LiteRT run of the int8 model ``convert`` ships for ``recipe`` (its float
        layers, int8 scope and output type), quantized by the function ``convert``
        quantizes with."""
        from .tflite_calibrated import quantize_for

        handed = _handed(calibration, KerasCalibration, "calibrate")
        calibrated = handed.integer if graph_for(recipe) == "integer" else handed.calibrated
        return _litert_run(quantize_for(calibrated, recipe))

    def train_qat(
        self, recipe: Recipe, example: Call, calibration: Sequence[Call], settings: QatSettings
    ) -> KerasQat:
        """Fine-tunes a fake-quantized copy (quantize.keras_qat) and converts it to TFLite
        with ``calibration``; ``self.model`` stays the fp32 model."""
        from convbert_edge.quantize.keras_qat import qat_finetune

        tuned = qat_finetune(
            self.model, settings.calls, steps=settings.steps, lr=settings.lr,
            accumulate=settings.accumulate, log=settings.log,
        )  # fmt: skip
        return KerasQat(recipe, tuned, self._convert(tuned, recipe, example, calibration))

    def qat_run(self, trained: KerasQat) -> Runner:
        return _litert_run(_handed(trained, KerasQat, "train_qat").converted.model)

    def convert(
        self,
        target: Target,
        recipe: Recipe,
        example: Call,
        calibration: Sequence[Call],
        qat: KerasQat | None = None,
    ) -> Converted:
        if qat is not None:
            result = _trained_for(qat, KerasQat, recipe).converted
        else:
            result = self._convert(self.model, recipe, example, calibration)
        return Converted(result.model, result.float_ops)

    def _convert(self, model, recipe: Recipe, example: Call, calibration) -> TFLiteResult:
        from .tflite import convert

        return convert(_export_model(model, example, graph_for(recipe)), recipe, calibration)


def _some(calibration: Sequence[Call]) -> list[Call]:
    calls = list(calibration)
    if not calls:
        raise ExportError("int8 needs calibration calls; none were given")
    return calls


def _handed(value, kind: type, made_by: str):
    """``value``, checked to be what this stack's ``made_by`` returns."""
    if not isinstance(value, kind):
        raise TypeError(
            f"expected a {kind.__name__} (what this stack's {made_by} returns), got "
            f"{type(value).__name__}: hand each stack the objects it made"
        )
    return value


def _trained_for(trained, kind: type, recipe: Recipe):
    """``trained``, checked to have been trained (and, for Keras, converted) for ``recipe``:
    shipping a QAT model made for another recipe would silently ignore the one asked for."""
    trained = _handed(trained, kind, "train_qat")
    differ = [
        f.name
        for f in fields(Recipe)
        if f.name != "notes" and getattr(trained.recipe, f.name) != getattr(recipe, f.name)
    ]
    if differ:
        raise ValueError(
            f"this QAT model was trained for another recipe (it differs in {', '.join(differ)}): "
            "run train_qat with the recipe to convert"
        )
    return trained


# The Keras stack's formulations (keras_stack.formulation.Graph), in KerasCalibration's
# field order.
GRAPHS = ("reference", "integer")


def graph_for(recipe: Recipe) -> str:
    """The formulation a recipe's TFLite model is traced with: the integer graph for the
    integer-only model (int8 scope "all": ops XNNPACK runs in int8, measured in
    docs/int8_ops.md), the reference graph for everything else."""
    integer_only = recipe.quantization == "int8" and recipe.int8_scope == "all"
    return "integer" if integer_only else "reference"


def _export_model(model, call, graph: str = "reference"):
    """The Keras model built at ``call``'s static shape ((batch, seq) or, for multiple
    choice, (batch, choices, seq)), for conversion, traced as ``graph``."""
    shape = call["input_ids"].shape
    choices = shape[1] if len(shape) == 3 else None
    return model.build_for_export(shape[0], shape[-1], choices, graph=graph)


def _litert_run(model: bytes) -> Callable:
    from convbert_edge.runtime.litert import litert_runner

    runner = litert_runner(model, num_threads=2)
    return lambda call: runner(**call)
