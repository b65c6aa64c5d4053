"""The PyTorch model as the .pte export writes it: every op inside XNNPACK's delegate.

    lowered = for_xnnpack(model)  # a copy; ``model`` keeps the reference graph

The reference graph (the model users load, compared with transformers) has two kinds of
op that executorch 1.5.1's XNNPACK partitioner leaves to the portable kernels, and each
one cuts a layer's delegate: ``native_layer_norm`` (no partitioner config) and the
amax/amin of the attention mask's row shift. The copy writes LayerNorm as mean.dim, sub,
mul and rsqrt (torch_stack.layer_norm) and masks with a constant
(attention.mask_scores_constant). In fp32 it computes the reference's outputs up to float
rounding and the mask margin (tests/test_torch_formulation.py). Post-training int8
and QAT both start from this copy, so the QAT student is the graph that gets lowered.
"""

from __future__ import annotations

from torch import nn

from convbert_edge.torch_stack.attention import ConvBertSelfAttention, mask_scores_constant
from convbert_edge.torch_stack.layer_norm import with_xnnpack_layer_norms


def for_xnnpack(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` with XNNPACK-shaped LayerNorms and the constant mask, in
    eval mode: the mode every export traces, and the one QAT's student trains in (see
    quantize.torch_qat).

    ``model`` itself is left unchanged, its mode included; module paths and parameter names
    stay the same, so state dicts move between the two.
    """
    model = with_xnnpack_layer_norms(model)  # a copy
    for module in model.modules():
        if isinstance(module, ConvBertSelfAttention):
            module.mask = mask_scores_constant
    return model.eval()
