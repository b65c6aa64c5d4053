"""Mixed precision: keep the layers int8 hurts most in float, until accuracy is in budget.

``choose_recipe`` is target-neutral: it is given a way to measure a recipe (build the
artifact, score it on held-out data) and searches from fastest to slowest:

1. all int8; if its drop is within ``max_drop`` points, done;
2. per-layer sensitivity: for each layer unit, the drop with only that unit in float
   (one measurement each) — the units whose float copy helps most are the sensitive ones;
3. the k most sensitive units in float, k = 2, 3, ... (k = 1 was measured in step 2);
4. fp32, which meets any budget by definition (it is the reference).

Units are named the same way for both stacks: ``layer.<i>`` for encoder layer i and
``head`` for the task head; each exporter maps them to its own module or tensor names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from convbert_edge.quantize.recipes import Recipe, recipe_for


def layer_units(num_layers: int) -> tuple[str, ...]:
    """The units a recipe can keep in float: every encoder layer, then the head."""
    return (*(f"layer.{i}" for i in range(num_layers)), "head")


@dataclass(frozen=True)
class Measured:
    """A recipe and what it cost on held-out data, in points of the task metric."""

    recipe: Recipe
    drop: float  # reference score minus this recipe's, in points (negative = better)
    agreement: float  # share of predictions equal to the reference's


@dataclass
class Choice:
    """The recipe picked, and every measurement made on the way (for the manifest)."""

    chosen: Measured
    tried: list[Measured] = field(default_factory=list)
    sensitivity: dict[str, float] = field(default_factory=dict)  # unit -> drop when float

    def summary(self) -> list[str]:
        lines = [
            f"{_name(m.recipe)}: drop {m.drop:+.2f} pt, agreement {m.agreement:.4f}"
            for m in self.tried
        ]
        return [*lines, f"chosen: {_name(self.chosen.recipe)}"]


def with_float_layers(recipe: Recipe, units: tuple[str, ...]) -> Recipe:
    """``recipe`` with ``units`` kept in float (and said so in its notes)."""
    return dataclasses.replace(
        recipe,
        float_layers=tuple(units),
        notes=(*recipe.notes, f"mixed precision: {', '.join(units)} kept in float"),
    )


def choose_recipe(
    base: Recipe,
    units: tuple[str, ...],
    measure: Callable[[Recipe], Measured],
    max_drop: float,
    log: Callable[[str], None] = print,
) -> Choice:
    """The fastest recipe whose measured drop is at most ``max_drop`` points.

    Args:
        base: the all-int8 recipe to start from.
        units: layer units that may be kept in float (``layer_units``).
        measure: builds and scores one recipe; called at most len(units) + 2 times.
        max_drop: the budget, in points of the task metric (e.g. 1.0 = one point).
    """
    if max_drop < 0:
        raise ValueError(f"max_drop must be >= 0 points, got {max_drop}")
    choice = Choice(chosen=_noted(measure(base), log))
    choice.tried.append(choice.chosen)
    if choice.chosen.drop <= max_drop:
        return choice
    log(f"      int8 drops {choice.chosen.drop:.2f} pt > {max_drop}: measuring layer sensitivity")
    single = {u: _noted(measure(with_float_layers(base, (u,))), log) for u in units}
    choice.tried += single.values()
    choice.sensitivity = {u: m.drop for u, m in single.items()}
    order = sorted(units, key=lambda u: (single[u].drop, units.index(u)))
    if single[order[0]].drop <= max_drop:
        choice.chosen = single[order[0]]
        return choice
    for k in range(2, len(units) + 1):
        m = _noted(measure(with_float_layers(base, tuple(order[:k]))), log)
        choice.tried.append(m)
        if m.drop <= max_drop:
            choice.chosen = m
            return choice
    fp32 = Measured(recipe_for("fp32"), 0.0, 1.0)
    log("      no int8 mix is within budget: fp32")
    choice.chosen = fp32
    choice.tried.append(fp32)
    return choice


def _name(recipe: Recipe) -> str:
    if recipe.float_layers:
        return f"{recipe.quantization} with {', '.join(recipe.float_layers)} in float"
    return recipe.quantization


def _noted(m: Measured, log: Callable[[str], None]) -> Measured:
    log(f"      {_name(m.recipe)}: drop {m.drop:+.2f} pt, agreement {m.agreement:.4f}")
    return m
