"""quantize.pt2e_config: the one PT2E quantizer config (PTQ, QAT, the litert-torch peer)."""

from __future__ import annotations

import pytest

from convbert_edge.errors import ExportError
from convbert_edge.quantize.pt2e_config import SCALE_EPS, pt2e_quantization_config
from convbert_edge.quantize.recipes import full_int8, recipe_for

pt2e = pytest.importorskip("torchao.quantization.pt2e")


def ctr(spec):
    """(class, keywords) of a spec's observer_or_fake_quant_ctr (a with_args partial)."""
    partial = spec.observer_or_fake_quant_ctr.p
    return partial.func, dict(partial.keywords)


def test_static_minmax_recipe_measures_activations_with_min_max():
    config = pt2e_quantization_config(recipe_for("int8"))
    assert ctr(config.input_activation) == (pt2e.MinMaxObserver, {"eps": SCALE_EPS})
    assert config.output_activation == config.input_activation
    assert ctr(config.weight)[0] is pt2e.PerChannelMinMaxObserver


def test_histogram_recipe_keeps_the_quantizers_own_observer():
    config = pt2e_quantization_config(recipe_for("int8", observer="histogram"))
    assert ctr(config.input_activation)[0] is pt2e.HistogramObserver


def test_dynamic_recipe_has_dynamic_activations_and_per_tensor_weights_when_asked():
    config = pt2e_quantization_config(recipe_for("dynamic-int8", granularity="per-tensor"))
    assert config.input_activation.is_dynamic
    assert ctr(config.weight)[0] is pt2e.MinMaxObserver


@pytest.mark.parametrize(
    "granularity,observer",
    [("per-channel", "PerChannelMinMaxObserver"), ("per-tensor", "MinMaxObserver")],
)
def test_qat_fake_quantizes_weights_over_a_plain_observer(granularity, observer):
    config = pt2e_quantization_config(recipe_for("int8", granularity=granularity), qat=True)
    assert ctr(config.weight) == (
        pt2e.FakeQuantize,
        {"observer": getattr(pt2e, observer), "eps": SCALE_EPS},
    )
    assert ctr(config.input_activation) == (
        pt2e.FakeQuantize,
        {"observer": pt2e.MinMaxObserver, "eps": SCALE_EPS},
    )


def test_qat_moving_average_ranges_keep_the_quantizers_fused_fake_quant():
    config = pt2e_quantization_config(full_int8(4), qat=True, activation_ranges="moving-average")
    assert ctr(config.input_activation)[0] is not pt2e.FakeQuantize
    assert ctr(config.weight)[0] is pt2e.FakeQuantize


def test_qat_refuses_dynamic_activations():
    with pytest.raises(ExportError, match="static"):
        pt2e_quantization_config(recipe_for("dynamic-int8"), qat=True)


def test_another_quantizers_base_config_gets_the_same_ranges():
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        get_symmetric_quantization_config,
    )

    calls = []

    def base(**kwargs):  # as litert-torch's peer passes its own quantizer's function
        calls.append(kwargs)
        return get_symmetric_quantization_config(**kwargs)

    config = pt2e_quantization_config(recipe_for("int8"), base=base)
    assert calls == [{"is_per_channel": True, "is_qat": False, "is_dynamic": False}]
    assert ctr(config.input_activation) == (pt2e.MinMaxObserver, {"eps": SCALE_EPS})
