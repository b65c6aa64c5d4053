"""quantize.torch_qat.qat_quantize under torchrun on the tiny classifier of test_torch_qat.

tests/test_distributed.py starts this with ``OUT FREEZE`` arguments: rank 0 saves the
converted graph's tensors (torch.save of a name -> tensor dict) to OUT; the other ranks
must end with WorkerRankDone (status 0) before that. FREEZE is QatConfig.freeze_observers.
"""

from __future__ import annotations

import os
import sys

import torch
from test_torch_qat import calls, quiet, tiny_classifier

from convbert_edge.launch import distributed_from_environ, process_group
from convbert_edge.quantize.recipes import full_int8
from convbert_edge.quantize.torch_qat import QatConfig, qat_quantize

QAT = dict(steps=4, accumulate=4, calibration_calls=4, lr=1e-3)


def graph_tensors(graph: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter and buffer of a converted graph (int8 weights, scales, floats)."""
    tensors = dict(graph.named_parameters())
    tensors.update(graph.named_buffers())
    return {k: v.detach().clone() for k, v in tensors.items()}


def run(freeze: float, distributed=None, seed: int = 0) -> dict[str, torch.Tensor]:
    torch.set_num_threads(1)
    config = QatConfig(**QAT, freeze_observers=freeze, seed=seed)
    train = calls(8, first_seed=0)
    result = qat_quantize(
        tiny_classifier(), train[0], full_int8(4), train, config, quiet, distributed
    )
    return graph_tensors(result.model)


if __name__ == "__main__":
    out, freeze = sys.argv[1], float(sys.argv[2])
    distributed = distributed_from_environ(os.environ)
    with process_group(distributed):
        tensors = run(freeze, distributed)
    torch.save(tensors, out)
