"""The PT2E quantization config of a recipe: which observers measure which ranges.

    quantizer = XNNPACKQuantizer().set_global(pt2e_quantization_config(recipe))          # PTQ
    quantizer = XNNPACKQuantizer().set_global(pt2e_quantization_config(recipe, qat=True))  # QAT

One function for post-training int8 (exporters/executorch.py), QAT (quantize/torch_qat.py)
and the litert-torch peer (exporters/peers.py, which passes its own quantizer's base
config), so the three measure ranges the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from convbert_edge.errors import ExportError

from .recipes import Recipe

# The smallest scale an observer may return, as the quantizers' own configs set it: a
# constant (all-equal) tensor still gets a finite, non-zero scale.
SCALE_EPS = 2**-12


def pt2e_quantization_config(
    recipe: Recipe,
    qat: bool = False,
    activation_ranges: str | None = None,
    base: Callable | None = None,
):
    """The quantizer config that quantizes as ``recipe`` says.

    Args:
        recipe: its granularity sets the weight scales (per channel or per tensor), its
            activations static or dynamic ranges, its observer how static ranges are
            measured ("minmax" or the quantizer's own "histogram").
        qat: fake-quantize weights and activations for quantization-aware training.
            Weights then get a plain FakeQuantize over a min/max observer instead of the
            quantizer's fused moving-average one: the fused op's ``scale`` (what training
            sees) drifts from its observer's ``calculate_qparams()`` (what convert_pt2e
            uses), measured 0.0029 vs 0.0030 on a tiny model, so the converted graph was
            not the graph that was trained.
        activation_ranges: "minmax", or anything else for the quantizer's default
            observer (QAT's "moving-average"); None: the recipe's observer.
        base: the quantizer's ``get_symmetric_quantization_config``; None: XNNPACK's.

    Returns:
        A QuantizationConfig for ``quantizer.set_global``.
    """
    from torchao.quantization.pt2e import FakeQuantize, MinMaxObserver, PerChannelMinMaxObserver

    if base is None:
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            get_symmetric_quantization_config as base,
        )
    per_channel = recipe.granularity == "per-channel"
    dynamic = recipe.activations == "dynamic"
    if qat and dynamic:
        raise ExportError(
            f"QAT trains for static activation ranges; recipe {recipe.quantization!r} has "
            "dynamic activations: choose a static int8 recipe"
        )
    config = base(is_per_channel=per_channel, is_qat=qat, is_dynamic=dynamic)
    if qat:
        observer = PerChannelMinMaxObserver if per_channel else MinMaxObserver
        weight = dataclasses.replace(
            config.weight,
            observer_or_fake_quant_ctr=FakeQuantize.with_args(observer=observer, eps=SCALE_EPS),
        )
        config = dataclasses.replace(config, weight=weight)
    if not dynamic and (activation_ranges or recipe.observer) == "minmax":
        ranges = (
            FakeQuantize.with_args(observer=MinMaxObserver, eps=SCALE_EPS)
            if qat
            else MinMaxObserver.with_args(eps=SCALE_EPS)
        )
        act = dataclasses.replace(config.input_activation, observer_or_fake_quant_ctr=ranges)
        config = dataclasses.replace(config, input_activation=act, output_activation=act)
    return config
