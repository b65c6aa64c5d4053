"""quantize.mixed_precision: the search from all-int8 to fp32, driven by measured drops."""

from __future__ import annotations

import pytest

from convbert_edge.quantize.mixed_precision import Measured, choose_recipe, layer_units
from convbert_edge.quantize.recipes import recipe_for

BASE = recipe_for("int8", calibration_samples=8)


def fake_measure(cost: dict[str, float], calls: list):
    """Drop = sum of the per-unit costs of the units left in int8."""

    def measure(recipe):
        calls.append(recipe.float_layers)
        drop = sum(c for unit, c in cost.items() if unit not in recipe.float_layers)
        return Measured(recipe, drop, 1.0 - drop / 100)

    return measure


def test_units_are_every_layer_then_the_head():
    assert layer_units(3) == ("layer.0", "layer.1", "layer.2", "head")


def test_int8_within_budget_is_chosen_without_further_work():
    calls = []
    choice = choose_recipe(BASE, layer_units(2), fake_measure({"layer.0": 0.3}, calls), 1.0)
    assert choice.chosen.recipe.float_layers == () and calls == [()]


def test_most_sensitive_layers_are_kept_float_first():
    cost = {"layer.0": 0.2, "layer.1": 1.5, "layer.2": 0.9, "head": 0.1}
    calls = []
    choice = choose_recipe(BASE, layer_units(3), fake_measure(cost, calls), 1.0, log=lambda s: None)
    # int8 drops 2.7; layer.1 alone leaves 1.2 > 1.0; layer.1 + layer.2 leaves 0.3.
    assert choice.chosen.recipe.float_layers == ("layer.1", "layer.2")
    assert choice.chosen.drop == pytest.approx(0.3)
    assert calls[0] == () and len(calls) == 1 + 4 + 1  # base, one per unit, then k = 2
    assert choice.sensitivity["layer.1"] == pytest.approx(1.2)
    assert "layer.1, layer.2 kept in float" in choice.chosen.recipe.notes[-1]


def test_a_single_float_layer_can_be_enough():
    cost = {"layer.0": 0.2, "layer.1": 1.5}
    choice = choose_recipe(BASE, layer_units(2), fake_measure(cost, []), 1.0, log=lambda s: None)
    assert choice.chosen.recipe.float_layers == ("layer.1",)


def test_fp32_when_no_mix_meets_the_budget():
    cost = {"layer.0": 0.5, "layer.1": 0.5, "embeddings": 2.0}  # embeddings is no unit
    choice = choose_recipe(BASE, layer_units(2), fake_measure(cost, []), 1.0, log=lambda s: None)
    assert choice.chosen.recipe.quantization == "fp32" and choice.chosen.drop == 0.0
    assert choice.summary()[-1] == "chosen: fp32"


def test_negative_budget_is_refused():
    with pytest.raises(ValueError, match="max_drop"):
        choose_recipe(BASE, layer_units(1), fake_measure({}, []), -0.5)
