"""How one optimizer step is spread over ranks and micro-batches, as one process would take it.

``batch_size`` is the global batch: per-rank rows x ranks x ``accumulate`` micro-batches.
Every rank draws the same seeded permutation of the training set (it depends on
(seed, epoch) only), cuts the same global batches from it, and takes the rows
``rank, rank + world, ...`` of each (DistributedSampler's interleaving), split into
``accumulate`` micro-batches. So every example is used once per epoch, by one rank, and
the remainder that does not fill a global batch is dropped, as in one process.

The loss of a global batch is the mean over its loss terms (rows, labelled tokens or
answer ends). A micro-batch's mean loss is weighted by its share of the global batch's
terms, times the world size because DistributedDataParallel averages the ranks'
gradients: the summed gradient is then the one-process gradient of the whole batch,
also when ranks hold different numbers of labelled tokens.
"""

from __future__ import annotations

import contextlib

import torch

from convbert_edge.distributed import Distributed
from convbert_edge.errors import ConfigError
from convbert_edge.training.data import IGNORE_INDEX


def micro_batch_size(batch_size: int, accumulate: int, distributed: Distributed | None) -> int:
    """Rows of one forward pass on one rank; ConfigError unless the global batch divides."""
    world = 1 if distributed is None else distributed.world_size
    if batch_size % (world * accumulate):
        raise ConfigError(
            f"batch_size {batch_size} (the global batch) is not divisible by {world} ranks x "
            f"{accumulate} accumulation steps; choose a batch_size that is a multiple of "
            f"{world * accumulate}, or change --accumulate or the number of processes"
        )
    return batch_size // (world * accumulate)


def rank_micro_batches(
    rows: torch.Tensor, accumulate: int, distributed: Distributed | None
) -> list[torch.Tensor]:
    """This rank's micro-batches (row indices) of one global batch ``rows``."""
    mine = rows if distributed is None else rows[distributed.rank :: distributed.world_size]
    return list(mine.chunk(accumulate))


def loss_terms(labels: torch.Tensor) -> int:
    """How many terms a task's mean loss averages over: the labels that are not ignored
    (rows for sequence classification, first pieces for tokens, answer ends for QA)."""
    return int((labels != IGNORE_INDEX).sum())


def wrap(model: torch.nn.Module, distributed: Distributed | None) -> torch.nn.Module:
    """DistributedDataParallel around model (which keeps its parameters), or model itself.

    DDP broadcasts rank 0's parameters at construction, so ranks start equal even if
    their initialisation differed.
    """
    if distributed is None:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [distributed.local_rank] if distributed.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def gradient_sync(net: torch.nn.Module, last: bool):
    """Context of one micro-batch: DDP all-reduces gradients only after the last one."""
    from torch.nn.parallel import DistributedDataParallel

    if last or not isinstance(net, DistributedDataParallel):
        return contextlib.nullcontext()
    return net.no_sync()


def dropout_seed(seed: int, distributed: Distributed) -> int:
    """The RNG seed of a rank after the model is built: ranks draw different dropout masks.

    One process draws masks for the whole (batch, ...) tensor in one call per layer; a
    rank cannot draw the same bits for its rows, so runs with dropout match one process
    in distribution only (tests/test_distributed.py compares weights with dropout off).
    """
    return seed * 1_000_003 + 7919 * (distributed.rank + 1)
