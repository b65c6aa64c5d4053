"""Mixed precision on the PyTorch stack: layer units kept float by the PT2E quantizer."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch_helpers import tiny_config

from convbert_edge.errors import ExportError
from convbert_edge.exporters.executorch import linear_report, quantize_pt2e
from convbert_edge.quantize.recipes import recipe_for
from convbert_edge.torch_stack import ConvBertForSequenceClassification

# PT2E-quantizes a model per test (20-25 s each on 2 cores): slow tier
pytestmark = pytest.mark.slow

SEQ = 16


@pytest.fixture(scope="module")
def model_and_calls():
    torch.manual_seed(0)
    model = ConvBertForSequenceClassification(tiny_config(num_groups=1)).eval()
    calls = []
    for _ in range(6):
        ids = torch.randint(1, 128, (1, SEQ))
        calls.append((ids, torch.ones_like(ids), torch.zeros_like(ids)))
    return model, calls


def _quantized(model, calls, units):
    recipe = dataclasses.replace(recipe_for("int8", calibration_samples=4), float_layers=units)
    return quantize_pt2e(model, calls[0], recipe, calls[:4])


def _linears(module) -> int:
    return sum(isinstance(m, torch.nn.Linear) for m in module.modules())


def test_float_units_leave_exactly_their_linears_float(model_and_calls):
    model, calls = model_and_calls
    assert linear_report(_quantized(model, calls, ()))["float"] == 0
    layer0 = _linears(model.convbert.encoder.layer[0])
    assert linear_report(_quantized(model, calls, ("layer.0",)))["float"] == layer0
    head = _linears(model.classifier)
    both = linear_report(_quantized(model, calls, ("layer.1", "head")))
    assert both["float"] == _linears(model.convbert.encoder.layer[1]) + head
    assert both["quantized"] == _linears(model) - both["float"]


def test_float_units_bring_outputs_closer_to_fp32(model_and_calls):
    model, calls = model_and_calls
    int8 = _quantized(model, calls, ())
    mixed = _quantized(model, calls, ("layer.0", "layer.1", "head"))
    with torch.no_grad():
        errors = [
            sum(float((q(*c)["logits"] - model(*c)["logits"]).abs().mean()) for c in calls[4:])
            for q in (int8, mixed)
        ]
    assert errors[1] < errors[0], errors


def test_unknown_or_absent_units_are_errors(model_and_calls):
    model, calls = model_and_calls
    with pytest.raises(ExportError, match="matches no module"):
        _quantized(model, calls, ("layer.5",))
    with pytest.raises(ExportError, match="unknown layer unit"):
        _quantized(model, calls, ("embeddings",))
