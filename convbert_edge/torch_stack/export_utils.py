"""Minimal export chain for tests and benchmarks: export -> lower to XNNPACK -> .pte.

Each stage takes the previous stage's artifact, as in ExecuTorch's examples; the full
exporters package builds on these. Nothing here changes how a model computes. Running
a .pte is the runtime's job (runtime/pte.py load_pte), a layer this stack cannot import.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from convbert_edge.io_utils import atomic_write_bytes

# Ops that carry the model's arithmetic weight: each must end inside an XNNPACK delegate.
GEMM_OPS = ("linear", "mm", "bmm", "addmm", "matmul", "convolution", "baddbmm")
# Ops that read by data-dependent index: the dynamic convolution must have none.
GATHER_OPS = ("index", "gather", "index_select", "take", "unfold", "im2col", "embedding")


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """``model`` in eval mode for the block; every module's own mode is put back after.

    An export reads the model it is handed and leaves it as it was: a model in training
    mode stays in training mode (``model.eval()`` alone would switch it for good).
    """
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training


def export_program(
    model: torch.nn.Module, example_inputs: Sequence[torch.Tensor], *, strict: bool = True
) -> torch.export.ExportedProgram:
    """torch.export at the static shapes of ``example_inputs`` (eval mode, no grad)."""
    with eval_mode(model), torch.no_grad():
        return torch.export.export(model, tuple(example_inputs), strict=strict)


def lower_to_xnnpack(program: torch.export.ExportedProgram):
    """Edge program with every supported subgraph delegated to XNNPACK."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    return to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])


def fold_constant_slices(graph_module: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """A copy of ``graph_module`` in which every static slice of a constant attribute is
    that constant, cut; ``graph_module`` itself is left as it is.

    The position table is read as ``weight[:seq_len]`` (torch_stack.embeddings): traced,
    that is a slice of the whole (max_position_embeddings, e) table, so a lowered program
    would store every row and copy seq_len of them on each call. Folded, it stores the
    seq_len rows it reads. An attribute nothing reads any more is dropped.
    """
    graph_module = copy.deepcopy(graph_module)
    graph = graph_module.graph
    folded = 0
    for node in list(graph.nodes):
        source = node.args[0] if node.args else None
        if not (
            node.op == "call_function"
            and node.target is torch.ops.aten.slice.Tensor
            and isinstance(source, torch.fx.Node)
            and source.op == "get_attr"
        ):
            continue
        named = zip(("dim", "start", "end", "step"), node.args[1:], strict=False)
        given = {**dict(named), **node.kwargs}  # args may stop after start or end
        dim, step = given.get("dim", 0), given.get("step", 1)
        start, end = given.get("start"), given.get("end")
        if not all(v is None or isinstance(v, int) for v in (dim, start, end, step)):
            continue  # a bound computed in the graph: not static
        table = getattr(*_owner(graph_module, source.target)).detach()
        cut = table[(slice(None),) * (dim % table.dim()) + (slice(start, end, step),)].clone()
        while hasattr(graph_module, name := f"_folded_slice_{folded}"):  # from an earlier fold
            folded += 1
        graph_module.register_buffer(name, cut)
        with graph.inserting_before(node):
            constant = graph.get_attr(name)
        constant.meta = dict(node.meta)
        node.replace_all_uses_with(constant)
        graph.erase_node(node)
        if not source.users:
            graph.erase_node(source)
            if not any(n.op == "get_attr" and n.target == source.target for n in graph.nodes):
                delattr(*_owner(graph_module, source.target))
    graph_module.recompile()
    return graph_module


def _owner(module: torch.nn.Module, target: str) -> tuple[torch.nn.Module, str]:
    """The submodule holding a get_attr target ("a.b.weight") and the attribute's name."""
    path, _, name = target.rpartition(".")
    return module.get_submodule(path), name


def write_pte(edge_program, path: str | os.PathLike) -> Path:
    """Serialise a lowered edge program to an ExecuTorch .pte file (atomically)."""
    return atomic_write_bytes(path, edge_program.to_executorch().buffer)


@dataclass(frozen=True)
class OpCensus:
    """Which aten ops of a lowered graph run outside the delegates, and how many delegates."""

    delegates: int
    outside: Counter

    def outside_matching(self, names: Sequence[str]) -> dict[str, int]:
        """Ops outside delegates whose base name (``aten.<name>.<overload>``) is in ``names``."""
        return {op: n for op, n in self.outside.items() if base_op_name(op) in names}


def base_op_name(op: str) -> str:
    # "aten.convolution.default" -> "convolution"; "aten.index.Tensor" -> "index"
    parts = op.split(".")
    name = parts[1] if len(parts) > 1 else parts[0]
    return name.removesuffix("_copy")


def op_census(edge_program) -> OpCensus:
    """Count delegate calls and the ops left outside them in the lowered graph."""
    delegates, outside = 0, Counter()
    for node in edge_program.exported_program().graph.nodes:
        if node.op != "call_function":
            continue
        name = str(getattr(node.target, "__name__", node.target))
        if "executorch_call_delegate" in name:
            delegates += 1
        elif name != "getitem":
            outside[op_name(node.target)] += 1
    return OpCensus(delegates, outside)


def op_name(target) -> str:
    """An fx node target's full name, "aten.convolution.default" (base_op_name shortens it)."""
    schema = getattr(target, "_schema", None)
    if schema is not None:  # "aten::convolution" + overload "default"
        base = schema.name.replace("::", ".")
        return f"{base}.{schema.overload_name or 'default'}"
    return str(target)
