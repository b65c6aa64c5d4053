"""The PT2E quantizer of the PyTorch stack: XNNPACK's annotations, LayerNorm kept float.

    quantizer = pt2e_quantizer(model, graph, recipe, pt2e_quantization_config(recipe))
    prepared = prepare_pt2e(graph, quantizer)  # or prepare_qat_pt2e

One builder for post-training int8 (exporters/executorch.py) and QAT (quantize/torch_qat.py),
so both leave the same nodes float.

Why LayerNorm needs more than the quantizer's own filters: the exporter writes LayerNorm
as mean.dim, sub, mul, add and rsqrt (torch_stack.layer_norm), and the XNNPACK quantizer
annotates every add and mul it meets, which would round the variance and the scaled
output to int8. ``set_filter_function`` and ``set_module_type(..., None)`` stop its
annotators, but not its ``propagate_annotation`` (xnnpack_quantizer_utils.py), which gives
any view/reshape/mean.dim that follows a quantized output that output's int8 observer,
filters or not: LayerNorm's first mean would be rounded to its input's int8 grid. A node
that already carries an annotation, even an empty one, is skipped by every annotator and
by that propagation, so KeepFloat marks LayerNorm's nodes first and XNNPACK's quantizer
runs after it (torchao's ComposableQuantizer).

XNNPACK's quantizer annotates only the linears and convolutions here, the scope of the
TFLite linear-scope model: its annotators for add, mul and cat are left out
(``_WEIGHTED_PATTERNS``). Those int8 adds and muls bought no speed (default model, 2
threads, AVX2 EPYC: 14.97 ms with them, 14.89 without; 1% on the Zen 4 of
docs/benchmarks.md), and each brought quantize/dequantize nodes that every pass of the
lowering re-traces: 834 nodes with them, 706 without; the default model lowered in
75.4 and 72.9 s with them and 66.1 and 60.0 s without (timed alternately, AVX2 EPYC),
and its int8 program agreed with fp32 on 99.5% and 99.7% of the test snippets.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
from torchao.quantization.pt2e.quantizer import (
    ComposableQuantizer,
    QuantizationAnnotation,
    Quantizer,
)
from torchao.quantization.pt2e.quantizer.quantizer import Q_ANNOTATION_KEY

from convbert_edge.quantize.recipes import Recipe
from convbert_edge.quantize.torch_float_layers import in_modules, quantizable


class KeepFloat(Quantizer):
    """Annotates the operations inside ``modules`` with no quantization at all.

    Composed before another quantizer, it keeps that quantizer away from them: their
    inputs are dequantized, their arithmetic and their outputs stay fp32.

    Args:
        modules: module paths as in named_modules (``encoder.layer.0.output.LayerNorm``).
    """

    def __init__(self, modules: Sequence[str]):
        super().__init__()
        self.modules = tuple(modules)

    def annotate(self, model: torch.fx.GraphModule) -> torch.fx.GraphModule:
        for node in model.graph.nodes:
            if node.op == "call_function" and in_modules(node, self.modules):
                node.meta[Q_ANNOTATION_KEY] = QuantizationAnnotation(_annotated=True)
        return model

    def validate(self, model: torch.fx.GraphModule) -> None:
        pass


def layer_norm_modules(model: torch.nn.Module) -> tuple[str, ...]:
    """Paths of the model's LayerNorms (nn.LayerNorm and subclasses)."""
    return tuple(n for n, m in model.named_modules() if isinstance(m, torch.nn.LayerNorm) and n)


def pt2e_quantizer(
    model: torch.nn.Module, graph: torch.fx.GraphModule, recipe: Recipe, config
) -> Quantizer:
    """XNNPACK's quantizer with ``config`` (pt2e_quantization_config), LayerNorm kept float.

    Args:
        model: the module ``graph`` was exported from (its LayerNorm paths are read).
        graph: ``torch.export.export(model, ...).module()``, which is what gets prepared.
        recipe: its float_layers (mixed precision) are left unannotated as well.
        config: the QuantizationConfig for ``set_global``.
    """
    xnnpack = _weighted_ops_quantizer()().set_global(config)
    if recipe.float_layers:  # mixed precision: these layer units are not annotated
        xnnpack.set_filter_function(quantizable(graph, recipe.float_layers))
    return ComposableQuantizer([KeepFloat(layer_norm_modules(model)), xnnpack])


# XNNPACKQuantizer's patterns for the ops that carry weights (linear and convolution, and
# their fused relu / batch-norm forms); its add, mul, cat and pooling annotators are not run.
_WEIGHTED_PATTERNS = ("linear", "conv")


@functools.cache
def _weighted_ops_quantizer() -> type:
    """XNNPACKQuantizer restricted to ``_WEIGHTED_PATTERNS`` (a subclass, made on first use:
    executorch is imported only when a PyTorch export needs it)."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import XNNPACKQuantizer

    patterns = [
        p for p in XNNPACKQuantizer.SUPPORTED_PATTERNS if p.name.startswith(_WEIGHTED_PATTERNS)
    ]
    return type(
        "WeightedOpsXNNPACKQuantizer", (XNNPACKQuantizer,), {"SUPPORTED_PATTERNS": patterns}
    )
