"""quantize.torch_qat.qat_quantize under torchrun on the tiny classifier of test_torch_qat.

tests/test_distributed.py starts this with ``OUT FREEZE`` arguments: rank 0 saves the
converted graph's tensors (torch.save of a name -> tensor dict) to OUT; the other ranks
must end with WorkerRankDone (status 0) before that. FREEZE is QatConfig.freeze_observers.
With ``OUT ranges`` every rank observes its share of 8 calls, merges the ranges
(torch_qat_ranks.merge_ranges) and saves them to OUT.<rank>.
"""

from __future__ import annotations

import os
import sys

import torch
from test_torch_qat import calls, quiet, tiny_classifier

from convbert_edge.launch import distributed_from_environ, process_group
from convbert_edge.quantize.pt2e_config import pt2e_quantization_config
from convbert_edge.quantize.recipes import full_int8
from convbert_edge.quantize.torch_embeddings import quantize_word_embeddings
from convbert_edge.quantize.torch_qat import QatConfig, qat_quantize
from convbert_edge.quantize.torch_qat_ranks import merge_ranges

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


def observed_ranges(distributed=None, merge: bool = True) -> dict[str, torch.Tensor]:
    """Observer minima, maxima and scales of a QAT graph after observing 8 calls (this
    rank's share, merged over the ranks); fake quantization off, so that what a call
    shows an observer does not depend on the ranges other calls set."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import XNNPACKQuantizer
    from torchao.quantization.pt2e import FakeQuantize, disable_fake_quant
    from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

    torch.set_num_threads(1)
    visits = calls(8, first_seed=0)
    student = tiny_classifier()
    quantize_word_embeddings(student)
    graph = torch.export.export(student, visits[0], strict=True).module()
    quantizer = XNNPACKQuantizer().set_global(pt2e_quantization_config(full_int8(4), qat=True))
    prepared = prepare_qat_pt2e(graph, quantizer)
    prepared.apply(disable_fake_quant)
    mine = visits if distributed is None else visits[distributed.rank :: distributed.world_size]
    with torch.no_grad():
        for call in mine:
            prepared(*call)
    if distributed is not None and merge:
        merge_ranges(prepared)
    out = {}
    for name, module in prepared.named_modules():
        if isinstance(module, FakeQuantize):
            observer = module.activation_post_process
            out |= {
                f"{name}.min": observer.min_val.clone(),
                f"{name}.max": observer.max_val.clone(),
            }
            out[f"{name}.scale"] = module.scale.clone()
    return out


if __name__ == "__main__":
    out, mode = sys.argv[1], sys.argv[2]
    distributed = distributed_from_environ(os.environ)
    with process_group(distributed):
        if mode == "ranges":
            torch.save(observed_ranges(distributed), f"{out}.{distributed.rank}")
        else:
            torch.save(run(float(mode), distributed), out)
