"""Which nodes of an exported PyTorch-stack graph belong to the layer units kept in float.

Units are named as in quantize.mixed_precision (``layer.<i>``, ``head``). torch.export
records, on every node, the stack of modules it was traced in (``nn_module_stack``); a
node belongs to a unit when one of those module paths is the unit's module or inside it.
``quantizable`` is the filter the XNNPACK quantizer takes (set_filter_function): it
annotates only nodes for which it returns True.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from convbert_edge.errors import ExportError

# Top-level modules of the heads, across the six task classes of torch_stack.
HEAD_MODULES = (
    "classifier",
    "qa_outputs",
    "generator_predictions",
    "generator_lm_head",
    "sequence_summary",
)


def unit_modules(unit: str) -> tuple[str, ...]:
    """Module paths (as in named_modules) that make up a unit."""
    kind, _, index = unit.partition(".")
    if kind == "layer" and index.isdigit():
        # The base model has no "convbert." prefix; the heads hold it as self.convbert.
        return (f"encoder.layer.{index}", f"convbert.encoder.layer.{index}")
    if unit == "head":
        return HEAD_MODULES
    raise ExportError(f"unknown layer unit {unit!r}: use layer.<i> or head")


def _module_paths(node: torch.fx.Node) -> list[str]:
    stack = node.meta.get("nn_module_stack") or {}
    return [path for path, _ in stack.values()]


def _inside(path: str, module: str) -> bool:
    return path == module or path.startswith(module + ".")


def in_modules(node: torch.fx.Node, modules: Sequence[str]) -> bool:
    """True when ``node`` was traced inside one of ``modules`` (paths as in named_modules)."""
    return any(_inside(p, m) for p in _module_paths(node) for m in modules)


def quantizable(
    graph: torch.fx.GraphModule, units: tuple[str, ...]
) -> Callable[[torch.fx.Node], bool]:
    """A node filter that is False inside the float units; an unknown or absent unit is an error."""
    modules = [m for unit in units for m in unit_modules(unit)]
    paths = {p for node in graph.graph.nodes for p in _module_paths(node)}
    for unit in units:
        if not any(_inside(p, m) for p in paths for m in unit_modules(unit)):
            raise ExportError(f"float layer {unit!r} matches no module of the model")

    def keep(node: torch.fx.Node) -> bool:
        return not in_modules(node, modules)

    return keep
