"""Quantization-aware fine-tuning of a Keras ConvBERT model for full-int8 TFLite.

Self-distillation: the teacher is the fp32 model as given, the student its fake-quantized
twin (keras_fake_quant), and the student learns to agree with the teacher on unlabelled
calls at the export shape. Any head works and no labels are needed. The fine-tuned
weights come back in a new model of the same class, which converts as before
(exporters/tflite.convert with the full-int8 recipe and calibration calls): the converter
measures its own ranges on the fine-tuned weights. (A graph that keeps the student's
ranges as fake-quant ops would need one on every tensor the converter quantizes; see
keras_fake_quant for how much of the artifact's error the student reproduces.) The model
handed in stays the fp32 model: the export compares QAT with post-training int8 of
exactly that model (exporters.selection.check_qat).

    >>> tuned = qat_finetune(model, calls, steps=30, lr=5e-6, accumulate=8)  # model unchanged
    >>> convert(tuned.build_for_export(1, 128), full_int8(), calibration_calls)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf
from keras import ops

from convbert_edge.errors import ExportError
from convbert_edge.keras_stack.base import ConvBertKerasModel
from convbert_edge.tasks import INPUT_NAMES, Task

from .keras_fake_quant import fake_quant_twin


def _kl(teacher, student):  # (..., k) logits -> (...,) KL(softmax(teacher) || softmax(student))
    log_p = ops.log_softmax(teacher, axis=-1)
    return ops.sum(ops.exp(log_p) * (log_p - ops.log_softmax(student, axis=-1)), axis=-1)


def _mse(teacher, student):  # (..., h) -> (...,)
    return ops.mean(ops.square(teacher - student), axis=-1)


RANGE_CALLS = 256  # the export's default calibration_samples

# Output name -> how the student's output is compared with the teacher's, per row.
OUTPUT_LOSSES: dict[str, Callable] = {
    "logits": _kl,
    "start_logits": _kl,
    "end_logits": _kl,
    "prediction_logits": _kl,
    "last_hidden_state": _mse,
}


def distillation_loss(teacher: dict, student: dict, attention_mask) -> tf.Tensor:
    """Sum over outputs of the mean per-row loss (OUTPUT_LOSSES) of student vs teacher.

    Per-token outputs (rows shaped like ``attention_mask``) are averaged over real tokens
    only: at a fixed sequence length most positions of a short text are padding.
    """
    total = 0.0
    for name, target in teacher.items():
        if name not in OUTPUT_LOSSES:
            raise ExportError(
                f"no distillation loss for output {name!r}; known: {', '.join(OUTPUT_LOSSES)}"
            )
        per_row = OUTPUT_LOSSES[name](target, student[name])
        if tuple(per_row.shape) == tuple(attention_mask.shape):
            weight = ops.cast(attention_mask, per_row.dtype)
            total += ops.sum(per_row * weight) / ops.maximum(ops.sum(weight), 1.0)
        else:
            total += ops.mean(per_row)
    return total


def qat_finetune(
    model: ConvBertKerasModel,
    train_calls: Sequence[dict[str, np.ndarray]],
    *,
    steps: int,
    lr: float,
    accumulate: int,
    log: Callable[[str], None] = print,
    log_every: int = 10,
) -> ConvBertKerasModel:
    """A copy of ``model`` fine-tuned under int8 fake quantization to agree with it.

    Args:
        model: a Keras ConvBERT task model, the teacher; left unchanged (its fp32 outputs
            are the targets throughout).
        train_calls: unlabelled model inputs at the export shape, dicts of INPUT_NAMES to
            int arrays of one static shape; used in order, cycling.
        steps: optimizer steps; each averages the gradients of ``accumulate`` calls.
        lr: Adam's peak learning rate, decayed linearly to 0; gradients clipped to
            global norm 1.
        log: receives a progress line every ``log_every`` steps.

    Returns:
        a new model of ``model``'s class holding the fine-tuned weights.

    Dropout stays off (the model is called with training=False); only rounding differs
    between teacher and student.
    """
    calls = _checked_calls(model, train_calls)
    for name, value, low in (("steps", steps, 1), ("accumulate", accumulate, 1)):
        if not isinstance(value, int) or value < low:
            raise ExportError(f"{name} must be a positive integer, got {value!r}")
    if not lr > 0:
        raise ExportError(f"lr must be positive, got {lr!r}")

    import keras

    student, ranges = fake_quant_twin(model)
    variables = student.trainable_weights
    schedule = keras.optimizers.schedules.PolynomialDecay(lr, steps, end_learning_rate=0.0)
    optimizer = keras.optimizers.Adam(learning_rate=schedule, global_clipnorm=1.0)
    optimizer.build(variables)
    sums = [tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False) for v in variables]

    @tf.function
    def observe(call):
        student(call, training=False)

    @tf.function
    def add_gradients(call):
        teacher_out = model(call, training=False)
        with tf.GradientTape() as tape:
            loss = distillation_loss(
                teacher_out, student(call, training=False), call["attention_mask"]
            )
        for total, grad in zip(sums, tape.gradient(loss, variables), strict=True):
            total.assign_add(tf.convert_to_tensor(grad))
        return loss

    @tf.function
    def apply_gradients():
        optimizer.apply_gradients(
            [(s / accumulate, v) for s, v in zip(sums, variables, strict=True)]
        )
        for total in sums:
            total.assign(tf.zeros_like(total))

    # The ranges start from as many calls as the export calibrates with, then keep growing.
    warm = min(len(calls), RANGE_CALLS)
    for call in calls[:warm]:
        observe(call)
    log(f"qat: {len(ranges)} activation ranges from {warm} calls; {steps} steps x {accumulate}")

    start, window, used = time.perf_counter(), [], 0
    for step in range(1, steps + 1):
        for _ in range(accumulate):
            window.append(float(add_gradients(calls[used % len(calls)])))
            used += 1
        apply_gradients()
        if step % log_every == 0 or step == steps:
            rate = used / (time.perf_counter() - start)
            log(f"qat step {step}/{steps} · loss {np.mean(window):.4g} · {rate:.1f} calls/s")
            window = []
    # A plain model (the student's stand-ins hold fake quantization) with the student's
    # weights; the teacher keeps its own.
    tuned = type(model)(model.config)
    tuned.set_weights(student.get_weights())
    return tuned


def _checked_calls(model: ConvBertKerasModel, calls) -> list[dict[str, tf.Tensor]]:
    """The calls as int32 tensors, after checking they share one shape the model takes."""
    calls = list(calls)
    if not calls:
        raise ExportError("QAT needs training calls (tokenized texts); none were given")
    rank = 3 if model.task is Task.MULTIPLE_CHOICE else 2
    first = np.shape(calls[0].get("input_ids")) if isinstance(calls[0], dict) else ()
    if len(first) != rank:
        raise ExportError(
            f"QAT calls for {model.task.value} need input_ids of rank {rank} "
            f"({'(batch, choices, seq_len)' if rank == 3 else '(batch, seq_len)'}), got {first}"
        )
    if first[-1] > model.config.max_position_embeddings:
        raise ExportError(
            f"seq_len {first[-1]} exceeds max_position_embeddings "
            f"({model.config.max_position_embeddings}); tokenize to a shorter seq_len"
        )
    out = []
    for i, call in enumerate(calls):
        if not isinstance(call, dict) or sorted(call) != sorted(INPUT_NAMES):
            keys = sorted(call) if isinstance(call, dict) else type(call).__name__
            raise ExportError(f"QAT call {i} must be a dict of {list(INPUT_NAMES)}, got {keys}")
        for name in INPUT_NAMES:
            value = np.asarray(call[name])
            if value.shape != first or not np.issubdtype(value.dtype, np.integer):
                raise ExportError(
                    f"QAT call {i}: {name} is {value.dtype} {value.shape}; every input of "
                    f"every call must be integer with the first call's shape {first} "
                    "(the static export shape)"
                )
        out.append({n: tf.constant(call[n], tf.int32) for n in INPUT_NAMES})
    return out
