"""The two model stacks as the export pipeline drives them: run the fp32 reference,
convert to a target, and simulate a quantization recipe for recipe selection.

``TorchStack`` feeds ExecuTorch and ONNX, ``KerasStack`` feeds TFLite; both take and give
the pipeline's calls (dicts of int32 numpy arrays shaped (batch, seq_len)).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convbert_edge.distributed import Distributed
from convbert_edge.quantize.recipes import Recipe
from convbert_edge.targets import Target
from convbert_edge.tasks import INPUT_NAMES, OUTPUT_NAMES, Task


@dataclass
class QatSettings:
    """What the stacks need for quantization-aware training (ExportOptions' qat_* fields)."""

    steps: int
    accumulate: int
    lr: float
    calls: list[dict[str, np.ndarray]]
    log: Callable[[str], None]
    distributed: Distributed | None = None  # torchrun's rank: ExecuTorch QAT is data-parallel


class TorchStack:
    """The PyTorch stack for one task: fp32 reference runs, ExecuTorch and ONNX conversion."""

    def __init__(self, model_dir: Path, task: Task):
        import torch

        from convbert_edge.torch_stack import model_class

        self.torch = torch
        self.task = task
        self.model = model_class(task).from_pretrained(model_dir).eval()
        self._qat = None  # train_qat's QatResult

    def _args(self, call):
        return tuple(self.torch.from_numpy(call[n]) for n in INPUT_NAMES)

    def run(self, call):
        with self.torch.no_grad():
            out = self.model(*self._args(call))
        return {k: v.numpy() for k, v in out.items()}

    def train_qat(self, recipe: Recipe, example, calibration, qat: QatSettings) -> None:
        """Quantization-aware training for ExecuTorch; ``convert(..., qat=True)`` lowers it.
        (It calibrates on the first of ``qat.calls``; ``calibration`` is for TFLite's.)"""
        from convbert_edge.quantize.torch_qat import QatConfig

        from .executorch import train_qat

        config = QatConfig(steps=qat.steps, lr=qat.lr, accumulate=qat.accumulate)
        train = [self._args(c) for c in qat.calls]
        self._qat = train_qat(
            self.model, self._args(example), recipe, train, config, qat.log, qat.distributed
        )

    def convert(self, target: Target, recipe: Recipe, example, calibration, qat: bool = False):
        """The model bytes and what stays float; ``qat`` lowers train_qat's model instead
        of quantizing after training."""
        calls = [self._args(c) for c in calibration]
        if target is Target.EXECUTORCH:
            from .executorch import export_pte, lower_qat

            if qat:
                result = lower_qat(self._trained_qat(), self._args(example), recipe)
            else:
                result = export_pte(self.model, self._args(example), recipe, calls)
            return result.program, result.float_ops
        from .onnx import export_onnx

        return export_onnx(
            self.model, self._args(example), OUTPUT_NAMES[self.task], recipe, calibration
        ), []

    def simulate(self, recipe: Recipe, calibration) -> Callable:
        """A run of the int8 graph before lowering (PT2E's quantize/dequantize in eager
        PyTorch): what the ExecuTorch artifact computes, without the lowering's cost."""
        from .executorch import quantized_graph

        calls = [self._args(c) for c in calibration]
        graph, _ = quantized_graph(self.model, calls[0], recipe, calls)
        return self._graph_run(graph)

    def _trained_qat(self):
        if self._qat is None:
            raise RuntimeError("train_qat has not run on this stack")
        return self._qat

    def last_qat_run(self) -> Callable:
        """A run of train_qat's converted int8 graph (as ``simulate``'s)."""
        return self._graph_run(self._trained_qat().model)

    def _graph_run(self, graph) -> Callable:
        def run(call):
            with self.torch.no_grad():
                return {k: v.numpy() for k, v in graph(*self._args(call)).items()}

        return run


class KerasStack:
    """The Keras stack for one task: fp32 reference runs and TFLite conversion."""

    def __init__(self, model_dir: Path, task: Task):
        from convbert_edge.keras_stack import model_class_for

        self.task = task
        # The fp32 model: the reference, and what post-training int8 quantizes. Nothing
        # writes to it; QAT trains a copy (qat_model).
        self.model = model_class_for(task).from_pretrained(model_dir)
        self._calibrated: bytes | None = None  # one calibration serves every simulation
        self.qat_model = None  # train_qat's fine-tuned Keras model
        self._qat = None  # its TFLite conversion

    def run(self, call):
        return {k: np.asarray(v) for k, v in self.model(call, training=False).items()}

    def train_qat(self, recipe: Recipe, example, calibration, qat: QatSettings) -> None:
        """Quantization-aware training of a fake-quantized copy of the fp32 model, kept as
        ``qat_model`` and converted to TFLite with ``calibration`` (what
        ``convert(..., qat=True)`` returns). ``self.model`` stays the fp32 model."""
        from convbert_edge.quantize.keras_qat import qat_finetune

        self.qat_model = qat_finetune(
            self.model, qat.calls, steps=qat.steps, lr=qat.lr, accumulate=qat.accumulate,
            log=qat.log,
        )  # fmt: skip
        self._qat = self._convert(self.qat_model, recipe, example, calibration)

    def convert(self, target: Target, recipe: Recipe, example, calibration, qat: bool = False):
        """The TFLite bytes and what stays float; ``qat``: train_qat's conversion."""
        result = (
            self._trained_qat() if qat else self._convert(self.model, recipe, example, calibration)
        )
        return result.model, result.float_ops

    def _convert(self, model, recipe: Recipe, example, calibration):
        from .tflite import convert

        return convert(_export_model(model, example), recipe, calibration)

    def _trained_qat(self):
        if self._qat is None:
            raise RuntimeError("train_qat has not run on this stack")
        return self._qat

    def simulate(self, recipe: Recipe, calibration) -> Callable:
        """A LiteRT run of the post-training int8 model ``convert`` ships for ``recipe``
        (its float layers, int8 scope and output type), from the fp32 model: calibrated
        once, quantized per recipe by the function ``convert`` quantizes with."""
        from .tflite_calibrated import calibrate, quantize_for

        if self._calibrated is None:
            export_model = _export_model(self.model, calibration[0])
            self._calibrated = calibrate(export_model, calibration)
        return _litert_run(quantize_for(self._calibrated, recipe))

    def last_qat_run(self) -> Callable:
        """A LiteRT run of train_qat's TFLite model."""
        return _litert_run(self._trained_qat().model)


def _export_model(model, call):
    """The Keras model built at ``call``'s static shape ((batch, seq) or, for multiple
    choice, (batch, choices, seq)), for conversion."""
    shape = call["input_ids"].shape
    choices = shape[1] if len(shape) == 3 else None
    return model.build_for_export(shape[0], shape[-1], choices)


def _litert_run(model: bytes) -> Callable:
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=model, num_threads=2).get_signature_runner()
    return lambda call: runner(**call)
