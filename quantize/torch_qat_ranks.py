"""How the ranks of a torchrun process group share PT2E QAT steps (quantize.torch_qat).

One process visits ``accumulate`` calls per optimizer step and sums their gradients. With
W ranks, every rank holds the same calls and the same seeded visit order; rank r takes
the calls r, r + W, ... of each step, and every rank then takes the same optimizer step
(the parameters never diverge, so nothing is broadcast).

The step's gradient is summed in one canonical order, the order of the calls, whatever W
is: each rank keeps its calls' gradients apart, the ranks gather them (calls kW .. kW +
W - 1 come together, one from each rank), and every rank adds them one by one in call
order, exactly as autograd accumulates them in one process. An all-reduce would add the
same numbers in another order (rank 0's calls first, then rank 1's, or the ring's order),
about 1e-8 apart; fake quantization rounds, a weight at a rounding boundary goes to
either side, and the difference grew to 7.3e-5 in float weights and one step in int8
weights within 4 steps on the tiny test model. In call order the runs are bit for bit
the same. The price: a rank holds W gradients of one chunk (``GATHER_CHUNK`` values) at a
time instead of one, and the gather moves W/2 times an all-reduce's bytes.

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

from convbert_edge.distributed import Distributed, all_gather, all_reduce
from convbert_edge.errors import ExportError

# values gathered per collective: W x 64 MB of float32 held at once
GATHER_CHUNK = 1 << 24


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


def take_gradients(params: Sequence[torch.nn.Parameter]) -> torch.Tensor:
    """This call's gradients as one flat vector (zeros where a parameter got none); the
    parameters' gradients are cleared for the next call."""
    flat = torch.cat(
        [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
    )  # (sum of numels,)
    for p in params:
        p.grad = None
    return flat


def sum_in_call_order(
    mine: Sequence[torch.Tensor], params: Sequence[torch.nn.Parameter], distributed: Distributed
) -> None:
    """Set each parameter's gradient to the step's sum over all ranks' calls, added in call
    order (one process's order).

    Args:
        mine: this rank's flat call gradients (take_gradients), in its visit order: the
            j-th is the step's call j * world_size + rank.
        params: the parameters, in the order the flat vectors were made.
        distributed: the group; every rank must hold the same number of calls.
    """
    numel = mine[0].numel()
    total = torch.empty_like(mine[0])  # (sum of numels,)
    for start in range(0, numel, GATHER_CHUNK):
        stop = min(numel, start + GATHER_CHUNK)
        acc = None
        for flat in mine:
            for piece in all_gather(flat[start:stop], distributed):  # calls in order
                acc = piece if acc is None else acc.add_(piece)
        total[start:stop] = acc
    sizes = [p.numel() for p in params]
    for p, piece in zip(params, total.split(sizes), strict=True):
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
