"""The .pte export's formulation of the PyTorch model (torch_stack.formulation).

The copy it makes masks attention with a constant and writes LayerNorm in XNNPACK's ops;
it must compute the reference's outputs, on padded inputs too, for every head, and leave
the model it was handed as it was.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch_helpers import make_inputs, sharpen, tiny_config

from convbert_edge.config import MASK_MARGIN
from convbert_edge.tasks import Task
from convbert_edge.torch_stack import MODEL_CLASSES
from convbert_edge.torch_stack.attention import (
    ConvBertSelfAttention,
    mask_scores,
    mask_scores_constant,
)
from convbert_edge.torch_stack.formulation import for_xnnpack
from convbert_edge.torch_stack.layer_norm import XnnpackLayerNorm

# Reference graph against the copy, fp32, tiny models on padded batches (5 seeds): at
# most 2.1e-6 (masked-LM logits), the LayerNorms' float rounding; a masked key weighs
# exp(-MASK_MARGIN - row max) < 1e-13 in either graph. 1e-5 is about 20 ulps of these
# outputs; a mask that lets padding through moves them by 1e-2 or more.
FORMULATION_ATOL = 1e-5


def tiny(task: Task) -> torch.nn.Module:
    torch.manual_seed(0)
    return sharpen(MODEL_CLASSES[task](tiny_config())).eval()


@pytest.mark.parametrize("task", list(Task), ids=lambda t: t.value)
def test_the_copy_computes_the_reference_outputs_on_padded_inputs(task):
    model = tiny(task)
    copy = for_xnnpack(model)
    shape = (2, 3, 16) if task is Task.MULTIPLE_CHOICE else (3, 16)  # rows 2, 3 padded
    for seed in range(3):
        call = make_inputs(shape, 128, seed=seed)
        with torch.no_grad():
            want, got = model(*call), copy(*call)
        for name in want:
            assert float((want[name] - got[name]).abs().max()) <= FORMULATION_ATOL, name


def test_padding_reaches_the_output_when_the_mask_is_dropped():
    # The test above can fail: without a mask, padded keys change the padded rows' logits.
    model = tiny(Task.SEQUENCE_CLASSIFICATION)
    copy = for_xnnpack(model)
    for module in copy.modules():
        if isinstance(module, ConvBertSelfAttention):
            module.mask = lambda scores, keep: scores
    call = make_inputs((3, 16), 128, seed=0)
    with torch.no_grad():
        moved = (model(*call)["logits"] - copy(*call)["logits"]).abs().max()
    assert float(moved) > 100 * FORMULATION_ATOL


def test_the_copy_leaves_the_model_alone():
    model = tiny(Task.SEQUENCE_CLASSIFICATION)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    copy = for_xnnpack(model)
    attentions = [m for m in model.modules() if isinstance(m, ConvBertSelfAttention)]
    assert attentions and all(m.mask is mask_scores for m in attentions)
    assert not any(isinstance(m, XnnpackLayerNorm) for m in model.modules())
    copied = [m for m in copy.modules() if isinstance(m, ConvBertSelfAttention)]
    assert all(m.mask is mask_scores_constant for m in copied)
    assert list(copy.state_dict()) == list(before)
    with torch.no_grad():
        next(copy.parameters()).add_(1.0)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())


def test_the_copy_is_in_eval_mode_and_the_model_keeps_its_own():
    model = tiny(Task.SEQUENCE_CLASSIFICATION).train()
    copy = for_xnnpack(model)
    assert not any(m.training for m in copy.modules())
    assert all(m.training for m in model.modules())


def test_masked_keys_are_set_to_minus_the_margin():
    scores = torch.randn(2, 3, 5, 5)
    keep = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0]).reshape(1, 1, 1, 5).expand(2, 1, 1, 5)
    masked = mask_scores_constant(scores, keep)
    assert torch.equal(masked[..., :3], scores[..., :3])
    assert torch.all(masked[..., 3:] == -MASK_MARGIN)
    probs = torch.softmax(masked, dim=-1)
    reference = torch.softmax(mask_scores(scores, keep), dim=-1)
    assert float((probs - reference).abs().max()) < 1e-9 + math.exp(-MASK_MARGIN + 5.0)
