"""An export reads the model it is handed and leaves its training mode as it was.

torch.export wants eval mode (no dropout), and each exporter used to call
``model.eval()`` on the caller's model, which switched a model in training for good: a
fine-tuning loop that exported a checkpoint mid-way would go on training without dropout.
Tiny sequence classifier (2 layers, hidden 64, seq 16).
"""

from __future__ import annotations

import pytest
import torch
from torch_helpers import make_inputs, tiny_config

from convbert_edge.exporters.executorch import export_pte, quantized_graph
from convbert_edge.exporters.onnx import export_onnx
from convbert_edge.quantize.recipes import fp32, full_int8
from convbert_edge.tasks import OUTPUT_NAMES, Task
from convbert_edge.torch_stack import MODEL_CLASSES
from convbert_edge.torch_stack.export_utils import eval_mode, export_program

TASK = Task.SEQUENCE_CLASSIFICATION


def modes(model: torch.nn.Module) -> dict[str, bool]:
    return {name: module.training for name, module in model.named_modules()}


def mixed_mode_model() -> torch.nn.Module:
    """In training, except one dropout in eval: restoring must put back each module's
    own mode, not the top module's."""
    torch.manual_seed(0)
    model = MODEL_CLASSES[TASK](tiny_config()).train()
    model.get_submodule("convbert.embeddings.dropout").eval()
    return model


def test_eval_mode_is_eval_inside_and_each_module_s_own_mode_after():
    model = mixed_mode_model()
    before = modes(model)
    assert True in before.values() and False in before.values()
    with eval_mode(model) as same:
        assert same is model
        assert not any(modes(model).values())
    assert modes(model) == before


def test_eval_mode_restores_after_an_error():
    model = mixed_mode_model()
    before = modes(model)
    with pytest.raises(RuntimeError), eval_mode(model):
        raise RuntimeError("the export failed")
    assert modes(model) == before


EXPORTS = {
    "torch.export": lambda model, example: export_program(model, example),
    "pte fp32": lambda model, example: export_pte(model, example, fp32()),
    "pt2e int8 graph": lambda model, example: quantized_graph(
        model, example, full_int8(2), [example, example]
    ),
    "onnx fp32": lambda model, example: export_onnx(model, example, OUTPUT_NAMES[TASK], fp32()),
}


@pytest.mark.parametrize("export", sorted(EXPORTS))
def test_export_leaves_a_training_model_in_training(export):
    model = mixed_mode_model()
    before = modes(model)
    EXPORTS[export](model, make_inputs((1, 16), 128, seed=0))
    assert modes(model) == before
