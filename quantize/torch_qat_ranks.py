"""How the ranks of a torchrun process group share PT2E QAT steps (quantize.torch_qat).

One process visits ``accumulate`` calls per optimizer step and sums their gradients. With
W ranks, every rank holds the same calls and the same seeded visit order; rank r takes
the calls r, r + W, ... of each step, the gradients are summed over ranks with one
all-reduce, and every rank then takes the same optimizer step (the parameters never
diverge, so nothing is broadcast).

The fake-quant ranges need more than DistributedDataParallel offers: DDP would broadcast
rank 0's observer buffers and drop what the other ranks observed. Here, after each step
in which the observers are live, the running minima and maxima are reduced (MIN, MAX)
over the ranks and the scales recomputed, so that every rank holds the ranges of all of
the step's calls, as one process does after the step. Within a step one process's later
calls already see the ranges widened by its earlier calls, which no split of the calls
can reproduce: runs match one process to float precision once the ranges are frozen
(``QatConfig.freeze_observers``), and before that as far as a training call does not
widen a range beyond what calibration and earlier steps saw. Calibration is not split:
every rank observes all calibration calls in one process's order, so the ranges training
starts from are exactly one process's.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from convbert_edge.distributed import Distributed, all_reduce
from convbert_edge.errors import ExportError


def check_split(accumulate: int, activation_ranges: str, distributed: Distributed) -> None:
    """ExportError unless a step's calls split evenly and the ranges can be merged."""
    if accumulate % distributed.world_size:
        raise ExportError(
            f"QAT accumulate {accumulate} (texts per step) is not a multiple of the "
            f"{distributed.world_size} processes; choose --qat-accumulate as a multiple of "
            "the number of processes"
        )
    if activation_ranges != "minmax":
        raise ExportError(
            f"QAT activation_ranges {activation_ranges!r} averages ranges in call order, "
            "which ranks cannot share; use 'minmax' under torchrun"
        )


def rank_visits(step_visits: Sequence[int], distributed: Distributed | None) -> Sequence[int]:
    """This rank's calls of one step's visits (all of them in one process)."""
    if distributed is None:
        return step_visits
    return step_visits[distributed.rank :: distributed.world_size]


def sum_gradients(params: Sequence[torch.nn.Parameter]) -> None:
    """Replace each parameter's gradient by its sum over the ranks (one all-reduce)."""
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = all_reduce(torch.cat([g.reshape(-1) for g in grads]))  # (sum of numels,)
    for p, piece in zip(params, flat.split([g.numel() for g in grads]), strict=True):
        p.grad = piece.view_as(p).clone()


def merge_ranges(prepared: torch.nn.Module) -> None:
    """Reduce every live observer's min (MIN) and max (MAX) over the ranks and recompute
    its fake quantizer's scale and zero point, as its next forward would."""
    from torchao.quantization.pt2e import FakeQuantize

    live = [
        m for m in prepared.modules() if isinstance(m, FakeQuantize) and bool(m.observer_enabled[0])
    ]
    if not live:
        return
    observers = [m.activation_post_process for m in live]
    lows = all_reduce(torch.cat([o.min_val.reshape(-1) for o in observers]), "min")
    highs = all_reduce(torch.cat([o.max_val.reshape(-1) for o in observers]), "max")
    sizes = [o.min_val.numel() for o in observers]
    with torch.no_grad():
        for fq, obs, low, high in zip(
            live, observers, lows.split(sizes), highs.split(sizes), strict=True
        ):
            obs.min_val.copy_(low.view_as(obs.min_val))
            obs.max_val.copy_(high.view_as(obs.max_val))
            scale, zero_point = fq.calculate_qparams()
            if fq.scale.shape != scale.shape:
                fq.scale.resize_(scale.shape)
                fq.zero_point.resize_(zero_point.shape)
            fq.scale.copy_(scale)
            fq.zero_point.copy_(zero_point)
