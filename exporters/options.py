"""What one export is asked to do: ``ExportOptions``, checked when it is made.

The CLI (convbert_edge/export.py) builds one from its flags; the pipeline
(exporters/pipeline.py) reads it. Which target offers which quantization comes from the
export spec (exporters/spec.py), so that a combination is refused here before any work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from convbert_edge.cache import default_cache_dir
from convbert_edge.distributed import Distributed
from convbert_edge.errors import ExportError
from convbert_edge.quantize.recipes import INT8_SCOPES
from convbert_edge.targets import Quantization, Target
from convbert_edge.tasks import Task

from .spec import offer, qat_targets


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
