"""What the CLIs share for torchrun: read its environment, open and close the process group.

This is CLI-level code (the only place below ``__main__`` that reads the environment):
``python -m convbert_edge.train`` and ``python -m convbert_edge.export`` call
``distributed_from_environ(os.environ)`` and run inside ``process_group(...)``, handing
the resulting ``Distributed`` down. Without torchrun's variables both are no-ops.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta

from convbert_edge.distributed import Distributed

# How long a collective may wait for a rank that is alive but stuck. torchrun's agent
# already ends every worker when one of them dies (measured: tests/test_distributed.py),
# and gloo fails at once on a closed connection, so this only catches hangs. The longest
# a rank waits for another in a healthy run is rank 0 writing a checkpoint (seconds).
PROCESS_GROUP_TIMEOUT = timedelta(minutes=10)
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def distributed_from_environ(
    environ: Mapping[str, str], cuda_available: bool | None = None
) -> Distributed | None:
    """The Distributed torchrun describes in ``environ``; None outside torchrun.

    The backend is nccl when CUDA is available (one GPU per process, LOCAL_RANK's), gloo
    otherwise.
    """
    present = [name for name in TORCHRUN_VARIABLES if name in environ]
    if not present:
        return None
    missing = [name for name in TORCHRUN_VARIABLES if name not in environ]
    if missing:
        raise ValueError(
            f"torchrun sets {', '.join(TORCHRUN_VARIABLES)}; {', '.join(missing)} "
            f"missing (found {', '.join(present)}): start the run with torchrun, or "
            "unset these variables to run one process"
        )
    if cuda_available is None:
        import torch

        cuda_available = torch.cuda.is_available()
    return Distributed(
        rank=int(environ["RANK"]),
        world_size=int(environ["WORLD_SIZE"]),
        local_rank=int(environ["LOCAL_RANK"]),
        backend="nccl" if cuda_available else "gloo",
    )


@contextmanager
def process_group(
    distributed: Distributed | None, timeout: timedelta = PROCESS_GROUP_TIMEOUT
) -> Iterator[Distributed | None]:
    """Open the default process group for ``distributed`` (torchrun's env:// rendezvous)
    and destroy it on the way out, also when the run fails; nothing for None."""
    if distributed is None:
        yield None
        return
    import torch
    import torch.distributed as dist

    # torchrun's agent stops the other workers with SIGTERM when one fails; ending through
    # SystemExit runs the ``finally`` blocks on the way out, so an atomic write that was
    # under way removes its temporary file instead of leaving it beside the checkpoint.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if distributed.backend == "nccl":
        torch.cuda.set_device(distributed.local_rank)
    dist.init_process_group(
        distributed.backend,
        init_method="env://",
        rank=distributed.rank,
        world_size=distributed.world_size,
        timeout=timeout,
    )
    try:
        yield distributed
    finally:
        dist.destroy_process_group()


def _exit_on_sigterm(signum, _frame) -> None:
    raise SystemExit(128 + signum)
