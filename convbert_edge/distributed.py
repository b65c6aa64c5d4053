"""Data-parallel runs: which rank this process is, and the few collectives training uses.

A ``Distributed`` describes a process group that the CLI opened (``convbert_edge.launch``
reads torchrun's environment and calls ``torch.distributed.init_process_group``); the
stages below the CLI (training, QAT) take it as an argument and never read the
environment. ``None`` everywhere means one process, the code path of a run without torchrun.

The helpers return new tensors and leave their inputs alone. They use the default group.
torch is imported inside them: the export pipeline imports this module, and its TFLite
path never needs torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

BACKENDS = ("gloo", "nccl")


class WorkerRankDone(SystemExit):
    """Raised on ranks other than 0 when their share of a distributed stage is done and
    what follows (lowering, verification, writing) is rank 0's alone.

    A SystemExit with status 0: it passes every ``except Exception`` between the stage
    and the interpreter, so the process ends with success without the CLI having to
    know which stage ended it (torchrun then waits for rank 0).
    """

    def __init__(self, rank: int):
        super().__init__(0)
        self.rank = rank


@dataclass(frozen=True)
class Distributed:
    """One process of a data-parallel run.

    Args:
        rank: this process's place in the group, 0 .. world_size - 1; rank 0 writes.
        world_size: processes in the group (over all machines).
        local_rank: this process's place on its machine (picks its GPU).
        backend: "gloo" (CPU tensors) or "nccl" (CUDA tensors, one GPU per process).

    Example:
        >>> d = Distributed(rank=1, world_size=2)
        >>> d.is_main, d.device.type
        (False, 'cpu')
    """

    rank: int
    world_size: int
    local_rank: int = 0
    backend: str = "gloo"

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is not in a group of {self.world_size}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend {self.backend!r}: choose one of {BACKENDS}")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def device(self) -> torch.device:
        """Where this rank's model and batches live: its GPU under nccl, else the CPU."""
        import torch

        if self.backend == "nccl":
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")


def all_reduce(tensor: torch.Tensor, op: str = "sum") -> torch.Tensor:
    """A copy of ``tensor`` reduced over all ranks ("sum", "min" or "max")."""
    import torch.distributed as dist

    ops = {"sum": dist.ReduceOp.SUM, "min": dist.ReduceOp.MIN, "max": dist.ReduceOp.MAX}
    out = tensor.detach().clone()
    dist.all_reduce(out, op=ops[op])
    return out


def all_gather(tensor: torch.Tensor, distributed: Distributed) -> list[torch.Tensor]:
    """Every rank's copy of ``tensor`` (same shape on every rank), in rank order."""
    import torch
    import torch.distributed as dist

    gathered = [torch.empty_like(tensor) for _ in range(distributed.world_size)]
    dist.all_gather(gathered, tensor.detach().contiguous())
    return gathered


def all_gather_rows(rows: torch.Tensor, distributed: Distributed) -> torch.Tensor:
    """Every rank's rows, concatenated in rank order (ranks may hold different counts).

    Rows are padded to the longest rank's count for the collective (all_gather wants one
    shape) and the padding is cut off again.
    """
    import torch

    counts = all_gather(torch.tensor([rows.shape[0]], device=rows.device), distributed)
    longest = int(max(c.item() for c in counts))
    padded = rows.new_zeros((longest, *rows.shape[1:]))  # (longest, ...)
    padded[: rows.shape[0]] = rows
    gathered = all_gather(padded, distributed)
    return torch.cat([g[: int(c.item())] for g, c in zip(gathered, counts, strict=True)])


def rank_range(n: int, distributed: Distributed | None) -> range:
    """The contiguous rows of n that this rank evaluates (all of them in one process)."""
    if distributed is None:
        return range(n)
    per_rank = -(-n // distributed.world_size)  # ceil
    start = min(n, distributed.rank * per_rank)
    return range(start, min(n, start + per_rank))
