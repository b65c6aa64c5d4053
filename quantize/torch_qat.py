"""Quantization-aware training (PT2E) of the PyTorch stack by self-distillation.

The fp32 model is its own teacher: the student is a copy of it, captured with torch.export
at the export shape and prepared for QAT by the XNNPACK quantizer, and it learns to give
the teacher's outputs through int8 fake quantization. No labels are needed, every head
works, and the objective is the thing an int8 artifact is judged by: agreement with fp32.

A straight line of stages: copy with the int8 word table in XNNPACK's formulation
(torch_stack.formulation, as export_pte lowers it) -> torch.export -> prepare_qat_pt2e
-> calibrate (observe without fake quantization, as post-training int8 does) -> train
(AdamW, linear decay, gradient accumulation; observers frozen for the last part) ->
convert_pt2e. The result is lowered like any PT2E graph
(exporters.executorch.export_pte_qat). Under torchrun the ranks share each step's calls
(quantize.torch_qat_ranks) and only rank 0 goes on to conversion.

Dropout stays off in the student. torchao's move_exported_model_to_train rewrites every
dropout of the graph to ``dropout(p=0.5, train=True)`` (its pattern match ignores the
literal p), and distillation wants the student to see what the teacher sees anyway. The
fake-quant modules do not read ``training``: they observe while their observer is
enabled and fake-quantize while fake quant is enabled, so nothing needs train mode.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from convbert_edge.distributed import Distributed, WorkerRankDone, all_reduce
from convbert_edge.errors import ExportError
from convbert_edge.quantize import torch_qat_ranks as ranks
from convbert_edge.quantize.pt2e_config import pt2e_quantization_config
from convbert_edge.quantize.recipes import Recipe
from convbert_edge.quantize.torch_embeddings import quantize_word_embeddings
from convbert_edge.torch_stack.export_utils import eval_mode
from convbert_edge.torch_stack.formulation import for_xnnpack

# Outputs that are distributions over their last axis: matched by KL divergence.
DISTRIBUTION_OUTPUTS = ("logits", "start_logits", "end_logits", "prediction_logits")
# Outputs that are feature vectors: matched by mean squared error.
FEATURE_OUTPUTS = ("last_hidden_state",)
ACTIVATION_RANGES = ("minmax", "moving-average")


@dataclass(frozen=True)
class QatConfig:
    """How long and how hard the student trains.

    Args:
        steps: optimizer steps.
        lr: AdamW's peak learning rate, reached after ``warmup`` and decayed linearly to 0.
            Keep it small: the student starts close to the teacher, and on the 4-layer
            sentiment model 2e-5 raised the distillation loss where 5e-6 did not hurt
            accuracy.
        accumulate: calls per optimizer step; the graph has the static export batch
            (typically 1), so a larger batch is emulated by summing gradients.
        calibration_calls: calls observed before training, without updates, so that
            training starts from ranges like post-training quantization's (256, as the
            int8 recipe calibrates on; fewer when fewer calls are given).
        warmup: fraction of the steps over which the learning rate rises from 0: Adam's
            first updates move every weight by about ``lr`` whatever its gradient, and at
            the start they only add rounding noise to a student that is already close.
        freeze_observers: fraction of the steps after which every range (activations
            and weights) stops moving, so the last updates see the ranges convert uses;
            1.0 never freezes, 0.0 freezes right after calibration.
        activation_ranges: "minmax" (the observed extremes, as export_pte's recipe) or
            "moving-average" (torchao's QAT default, an average of per-call extremes).
        temperature: softmax temperature of the KL terms.
        mse_weight: weight of an extra MSE term on distribution outputs (0 for none).
        weight_decay: AdamW's decoupled decay (0 keeps the student near the teacher
            only through the loss).
        log_every: optimizer steps between progress lines.
        seed: order in which the calls are visited.
        held_out: calls set aside (the last ones given, when at least twice as many are
            given; else the first ones, which then also train) whose mean loss is logged
            before training, at every progress line, and for the converted graph at the
            end (QatResult.held_losses, converted_loss). The training loss of a step says
            little: on the default model it varied 50x between batches of 8 texts
            (1.5e-5 to 7e-4, measured) and the first batch sat 4x below the mean.

    Example:
        >>> QatConfig(steps=300, accumulate=8).calls_needed
        2400
    """

    steps: int
    lr: float = 5e-6
    accumulate: int = 8
    calibration_calls: int = 256
    warmup: float = 0.1
    freeze_observers: float = 0.75
    activation_ranges: str = "minmax"
    temperature: float = 1.0
    mse_weight: float = 0.0
    weight_decay: float = 0.0
    log_every: int = 25
    seed: int = 0
    held_out: int = 16

    def __post_init__(self) -> None:
        for name in ("steps", "accumulate", "log_every", "held_out"):
            if getattr(self, name) < 1:
                raise ExportError(f"QAT {name} must be at least 1, got {getattr(self, name)}")
        if self.calibration_calls < 0:
            raise ExportError(f"QAT calibration_calls must be >= 0, got {self.calibration_calls}")
        if not self.lr > 0 or not self.temperature > 0 or self.mse_weight < 0:
            raise ExportError(
                f"QAT needs lr > 0, temperature > 0 and mse_weight >= 0; got lr {self.lr}, "
                f"temperature {self.temperature}, mse_weight {self.mse_weight}"
            )
        if not 0.0 <= self.warmup < 1.0:
            raise ExportError(f"QAT warmup is a fraction in [0, 1), got {self.warmup}")
        if not 0.0 <= self.freeze_observers <= 1.0:
            raise ExportError(
                f"QAT freeze_observers is a fraction in [0, 1], got {self.freeze_observers}"
            )
        if self.activation_ranges not in ACTIVATION_RANGES:
            raise ExportError(
                f"QAT activation_ranges {self.activation_ranges!r}: "
                f"choose one of {ACTIVATION_RANGES}"
            )

    @property
    def calls_needed(self) -> int:
        """Training calls visited (the given calls are cycled through as often as needed)."""
        return self.steps * self.accumulate


@dataclass
class QatResult:
    """The converted graph (ready for lower_to_pte) and how training went."""

    model: torch.fx.GraphModule
    swapped: list[str]  # word-embedding tables stored as int8 (frozen during training)
    losses: list[float] = field(default_factory=list)  # mean loss of each optimizer step
    seconds: float = 0.0
    # (optimizer steps taken, mean loss on the held-out calls): before training (0) and
    # at every progress line, measured on the fake-quantized graph with its ranges as
    # they were (observers paused).
    held_losses: list[tuple[int, float]] = field(default_factory=list)
    converted_loss: float = math.nan  # the converted graph's, on the same calls


def distillation_loss(
    student: dict[str, torch.Tensor],
    teacher: dict[str, torch.Tensor],
    attention_mask: torch.Tensor,
    temperature: float = 1.0,
    mse_weight: float = 0.0,
) -> torch.Tensor:
    """Sum over outputs of KL(teacher || student) for distributions, MSE for features.

    Per-token outputs (whose leading axes are the attention mask's) are averaged over
    real tokens only: at seq 128 most positions of a short text are padding, and matching
    the teacher there would be most of the loss and none of the use.
    """
    if set(student) != set(teacher):
        raise ExportError(
            f"student outputs {sorted(student)} differ from teacher's {sorted(teacher)}"
        )
    total = student[next(iter(student))].new_zeros(())
    for name, s in student.items():
        t = teacher[name].detach()
        if name in DISTRIBUTION_OUTPUTS:
            log_p = F.log_softmax(t / temperature, dim=-1)
            log_q = F.log_softmax(s / temperature, dim=-1)
            per_row = (log_p.exp() * (log_p - log_q)).sum(-1) * temperature**2  # (...)
            if mse_weight:
                per_row = per_row + mse_weight * (s - t).pow(2).mean(-1)
        elif name in FEATURE_OUTPUTS:
            per_row = (s - t).pow(2).mean(-1)  # (...)
        else:
            raise ExportError(
                f"no distillation loss for output {name!r}; known outputs: "
                f"{DISTRIBUTION_OUTPUTS + FEATURE_OUTPUTS}"
            )
        if per_row.shape == attention_mask.shape:
            weights = attention_mask.to(per_row.dtype)
            total = total + (per_row * weights).sum() / weights.sum().clamp_min(1.0)
        else:
            total = total + per_row.mean()
    return total


def check_calls(example: tuple, calls: Sequence[tuple], what: str = "training") -> None:
    """Every call must be (input_ids, attention_mask, token_type_ids) at the example's shape."""
    if len(calls) == 0:
        raise ExportError(
            f"QAT needs {what} calls (tokenized texts at the export shape); none were given"
        )
    want = [(tuple(x.shape), x.dtype) for x in example]
    for i, call in enumerate(calls):
        got = [(tuple(x.shape), x.dtype) for x in call]
        if got != want:
            raise ExportError(
                f"{what} call {i} has inputs {got}, the export shape is {want}: the QAT graph is "
                "captured at the static export shape, so tokenize training texts with the same "
                "batch and seq_len (and dtype) as the example"
            )


def qat_quantize(
    model: torch.nn.Module,
    example: tuple,
    recipe: Recipe,
    train_calls: Sequence[tuple],
    config: QatConfig,
    log: Callable[[str], None] = print,
    distributed: Distributed | None = None,
) -> QatResult:
    """Quantization-aware training of a copy of ``model`` against ``model`` itself.

    Args:
        model: the fp32 model (the teacher; left unchanged).
        example: (input_ids, attention_mask, token_type_ids) at the export shape.
        recipe: a static int8 recipe (its granularity sets the weight scales).
        train_calls: unlabelled calls like ``example``; the first ``calibration_calls``
            calibrate, then all are visited in a seeded random order, cycling as needed.
        config: steps, learning rate and the rest (QatConfig).
        log: receives progress lines (rank 0's only).
        distributed: this process's rank in an open process group (torchrun): each step's
            calls are shared by the ranks (quantize.torch_qat_ranks); None: one process.

    Returns:
        QatResult whose ``model`` is the converted graph, ready for lower_to_pte.

    Raises:
        WorkerRankDone: on ranks other than 0, once training is done (a SystemExit with
            status 0): conversion, lowering and verification happen once, on rank 0.
    """
    with eval_mode(model):  # the teacher runs without dropout; its own mode comes back
        return _qat_quantize(model, example, recipe, train_calls, config, log, distributed)


def _qat_quantize(
    teacher: torch.nn.Module,
    example: tuple,
    recipe: Recipe,
    train_calls: Sequence[tuple],
    config: QatConfig,
    log: Callable[[str], None],
    distributed: Distributed | None,
) -> QatResult:
    from torchao.quantization.pt2e import (
        disable_fake_quant,
        disable_observer,
        enable_fake_quant,
        move_exported_model_to_eval,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_qat_pt2e

    from convbert_edge.quantize.pt2e_quantizer import pt2e_quantizer

    if recipe.activations != "static" or recipe.activation_bits != 8:
        raise ExportError(
            f"QAT trains for static int8 activations; recipe {recipe.quantization!r} has "
            f"{recipe.activations} {recipe.activation_bits}-bit activations"
        )
    example = tuple(example)
    calls = [tuple(c) for c in train_calls]
    check_calls(example, calls)
    if distributed is not None:
        ranks.check_split(config.accumulate, config.activation_ranges, distributed)
        if not distributed.is_main:
            log = _silent
    held, calls, held_kind = _held_out(calls, config.held_out)
    start = time.perf_counter()

    student = for_xnnpack(teacher)  # a copy, in the formulation export_pte lowers
    swapped = quantize_word_embeddings(student)
    graph = torch.export.export(student, example, strict=True).module()
    quantizer = pt2e_quantizer(
        student,
        graph,
        recipe,
        pt2e_quantization_config(recipe, qat=True, activation_ranges=config.activation_ranges),
    )
    prepared = prepare_qat_pt2e(graph, quantizer)

    # Calibrate with fake quantization off, as post-training int8 calibrates: each range
    # is measured on float activations, and training starts from exactly the PTQ model.
    # With it on, every range saw the rounding of all before it: on the default model the
    # untrained student's held-out loss was 2.1x post-training int8's (2.5e-4 vs 1.2e-4
    # on 32 test texts; tiny model 1.09x), a handicap training never made up.
    prepared.apply(disable_fake_quant)
    with torch.no_grad():
        for call in calls[: config.calibration_calls]:
            prepared(*call)
    prepared.apply(enable_fake_quant)
    log(f"      QAT: calibrated on {min(len(calls), config.calibration_calls)} calls")
    if config.freeze_observers == 0.0:
        prepared.apply(disable_observer)

    def held_loss(graph: torch.nn.Module) -> float:
        with torch.no_grad(), _observers_paused(graph):
            return _mean_loss(graph, teacher, held, config)

    held_losses = [(0, held_loss(prepared))]
    log(f"      QAT: loss {held_losses[0][1]:.4g} on {len(held)} {held_kind} calls before training")

    params = [p for p in prepared.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _warmup_then_decay(config.steps, round(config.warmup * config.steps))
    )
    order = _visit_order(len(calls), config.calls_needed, config.seed)
    freeze_at = math.ceil(config.freeze_observers * config.steps)
    losses: list[float] = []
    tick = time.perf_counter()
    for step in range(config.steps):
        if step == freeze_at and step > 0:
            prepared.apply(disable_observer)
            log(f"      QAT: ranges frozen from step {step + 1}")
        total = 0.0
        visits = order[step * config.accumulate : (step + 1) * config.accumulate]
        mine = []  # under torchrun: this rank's call gradients, summed in call order below
        for i in ranks.rank_visits(visits, distributed):
            call = calls[i]
            with torch.no_grad():
                target = teacher(*call)
            loss = distillation_loss(
                prepared(*call), target, call[1], config.temperature, config.mse_weight
            )
            (loss / config.accumulate).backward()
            total += float(loss.detach())
            if distributed is not None:
                mine.append(ranks.take_gradients(params))
        if distributed is not None:
            ranks.sum_in_call_order(mine, params, distributed)
            ranks.merge_ranges(prepared)  # no-op once the observers are frozen
            total = float(all_reduce(torch.tensor(total, dtype=torch.float64)))
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        schedule.step()
        losses.append(total / config.accumulate)
        if (step + 1) % config.log_every == 0 or step + 1 == config.steps:
            held_losses.append((step + 1, held_loss(prepared)))
            rate = (step + 1) / (time.perf_counter() - tick)
            recent = losses[-config.log_every :]
            log(
                f"      QAT step {step + 1}/{config.steps} · held-out loss "
                f"{held_losses[-1][1]:.4g} · training loss {sum(recent) / len(recent):.4g}"
                f" · {rate:.2f} steps/s · {(config.steps - step - 1) / rate:.0f} s left"
            )

    if distributed is not None and not distributed.is_main:
        raise WorkerRankDone(distributed.rank)
    move_exported_model_to_eval(prepared)  # no-op for dropout left in eval; kept for torchao
    with torch.no_grad():
        converted = convert_pt2e(prepared)
    converted_loss = held_loss(converted)
    first = held_losses[0][1]
    log(f"      QAT: converted graph's loss {converted_loss:.4g} (before training {first:.4g})")
    if converted_loss >= first:
        log(
            "      QAT: the held-out loss did not fall; try a lower lr or more steps, or use "
            "post-training int8"
        )
    return QatResult(
        converted, swapped, losses, time.perf_counter() - start, held_losses, converted_loss
    )


def _held_out(calls: list[tuple], n: int) -> tuple[list[tuple], list[tuple], str]:
    """(calls to measure progress on, calls to calibrate and train on, what the first
    are): the last ``n`` set aside when at least ``2 n`` are given, else the first ``n``
    of all, shared."""
    if len(calls) >= 2 * n:
        return calls[len(calls) - n :], calls[: len(calls) - n], "held-out"
    return calls[:n], calls, "training"


def _mean_loss(graph, teacher, calls: Sequence[tuple], config: QatConfig) -> float:
    total = 0.0
    for call in calls:
        total += float(
            distillation_loss(
                graph(*call), teacher(*call), call[1], config.temperature, config.mse_weight
            )
        )
    return total / len(calls)


@contextlib.contextmanager
def _observers_paused(graph: torch.nn.Module):
    """Measuring must not move the ranges: each fake quantizer's observer is switched off
    and back to what it was."""
    from torchao.quantization.pt2e import FakeQuantizeBase

    quantizers = [m for m in graph.modules() if isinstance(m, FakeQuantizeBase)]
    enabled = [bool(m.observer_enabled[0]) for m in quantizers]
    for m in quantizers:
        m.disable_observer()
    try:
        yield
    finally:
        for m, on in zip(quantizers, enabled, strict=True):
            if on:
                m.enable_observer()


def _silent(_line: str) -> None:
    pass


def _warmup_then_decay(steps: int, warmup: int) -> Callable[[int], float]:
    """Learning-rate factor: 0 -> 1 over ``warmup`` steps, then 1 -> 0 at ``steps``."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (steps - step) / max(1, steps - warmup))

    return factor


def _visit_order(n_calls: int, n_visits: int, seed: int) -> list[int]:
    """Seeded epochs over the calls: each epoch a fresh permutation, cut to ``n_visits``."""
    generator = torch.Generator().manual_seed(seed)
    order: list[int] = []
    while len(order) < n_visits:
        order.extend(torch.randperm(n_calls, generator=generator).tolist())
    return order[:n_visits]
