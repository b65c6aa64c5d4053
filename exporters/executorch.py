"""PyTorch stack -> ExecuTorch .pte on XNNPACK: fp32, static int8 (PT2E), dynamic int8.

A straight line: a copy in the formulation XNNPACK takes whole (torch_stack.formulation:
LayerNorm as mean/rsqrt ops, a constant attention mask) ->
torch.export (static shapes) -> optional PT2E quantization with the XNNPACK
quantizer, LayerNorm kept float (calibrated on real batches) -> to_edge_transform_and_lower
with the XNNPACK partitioner -> .pte bytes. ``lower_to_pte`` also says what ran where
(torch_stack.export_utils.op_census).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from convbert_edge.errors import ExportError
from convbert_edge.exporters.progress import substep
from convbert_edge.quantize.pt2e_config import pt2e_quantization_config
from convbert_edge.quantize.recipes import Recipe
from convbert_edge.quantize.torch_embeddings import quantize_word_embeddings
from convbert_edge.tasks import INPUT_NAMES
from convbert_edge.torch_stack.formulation import for_xnnpack

if TYPE_CHECKING:
    from convbert_edge.distributed import Distributed
    from convbert_edge.quantize.torch_qat import QatConfig, QatResult

# Edge-dialect ops that do the model's arithmetic; every one must sit inside a delegate.
COMPUTE_OPS = ("linear", "addmm", "mm", "bmm", "matmul", "convolution")
# Ops that would mean the dynamic convolution was lowered as a gather.
GATHER_OPS = ("index", "gather", "index_select", "take")


@dataclass
class PteResult:
    """The program bytes and what the lowering left outside XNNPACK."""

    program: bytes
    delegated_calls: int
    undelegated: Counter = field(default_factory=Counter)
    linears: Counter = field(default_factory=Counter)
    float_ops: list[dict[str, str]] = field(default_factory=list)


def _to_tuple(batch: dict[str, torch.Tensor] | tuple) -> tuple:
    if isinstance(batch, dict):
        return tuple(batch[n] for n in INPUT_NAMES)
    return tuple(batch)


def quantize_pt2e(
    model: torch.nn.Module,
    example: tuple,
    recipe: Recipe,
    calibration: Iterable[tuple] = (),
) -> torch.nn.Module:
    """Export for training-free quantization and calibrate; returns the converted module."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from convbert_edge.quantize.pt2e_quantizer import pt2e_quantizer

    dynamic = recipe.activations == "dynamic"
    with substep("torch.export and PT2E prepare"):
        # non-strict (torch's default): the same graph for this model as dynamo's strict
        # tracing, in 0.9 s instead of 3.3 s on the default model
        graph = torch.export.export(model, example, strict=False).module()
        quantizer = pt2e_quantizer(model, graph, recipe, pt2e_quantization_config(recipe))
        prepared = prepare_pt2e(graph, quantizer)
    seen = 0
    with substep("calibration"), torch.no_grad():
        for batch in calibration:
            prepared(*_to_tuple(batch))
            seen += 1
        if dynamic and seen == 0:
            prepared(*example)  # weight observers record their ranges only in forward
    if not dynamic and seen == 0:
        raise ExportError("static int8 needs calibration batches; none were given")
    with substep("PT2E convert"):
        return convert_pt2e(prepared)


def quantized_graph(
    model: torch.nn.Module, example: tuple, recipe: Recipe, calibration: Iterable[tuple] = ()
) -> tuple[torch.fx.GraphModule, list[str]]:
    """The model as export_pte quantizes it, before lowering: a copy with the int8 word
    table, in torch_stack.formulation's graph, through PT2E. It also runs eagerly, which
    simulates the int8 artifact."""
    model = for_xnnpack(model)  # an eval-mode copy: the caller's model keeps its mode
    swapped = quantize_word_embeddings(model)
    return quantize_pt2e(model, example, recipe, calibration), swapped


def linear_report(graph_module: torch.fx.GraphModule) -> Counter:
    """Counter of linear ops by kind: "quantized" when both the weight and the activation
    come through a dequantize node (so XNNPACK runs it as an int8 GEMM), else "float"."""

    def dequantized(node) -> bool:
        return isinstance(node, torch.fx.Node) and "dequantize" in str(node.target)

    kinds: Counter = Counter()
    for node in graph_module.graph.nodes:
        if node.op == "call_function" and "linear" in str(node.target):
            activation, weight = node.args[0], node.args[1]
            kinds["quantized" if dequantized(activation) and dequantized(weight) else "float"] += 1
    return kinds


def lower_to_pte(model: torch.nn.Module, example: tuple) -> PteResult:
    """torch.export + XNNPACK lowering + ExecuTorch program; model must be in eval mode."""
    from convbert_edge.torch_stack.export_utils import (
        base_op_name,
        fold_constant_slices,
        lower_to_xnnpack,
        op_census,
    )

    if isinstance(model, torch.fx.GraphModule):  # PT2E's converted graph: int8 and QAT
        model = fold_constant_slices(model)  # a copy: the position table's rows it reads
    with substep("torch.export, to_edge and XNNPACK lowering"):
        edge = lower_to_xnnpack(_export_for_lowering(model, example))
    census = op_census(edge)
    undelegated = Counter()
    for op, n in census.outside.items():
        undelegated[base_op_name(op)] += n
    with substep("to_executorch"):
        program = edge.to_executorch().buffer
    return PteResult(program=program, delegated_calls=census.delegates, undelegated=undelegated)


def _export_for_lowering(model: torch.nn.Module, example: tuple) -> torch.export.ExportedProgram:
    """torch.export for to_edge, without the provenance it would copy at every pass.

    Its nodes' provenance chains ("from_node", four to six steps deep after PT2E) are
    dropped: every pass of the lowering deep-copies each node's chain and adds one step,
    so the copying grows with the pass count (about 2 s of the default model's lowering,
    which reads none of it). Non-strict, as in quantize_pt2e.
    """
    program = torch.export.export(model, example, strict=False)
    for node in program.graph.nodes:
        node.meta.pop("from_node", None)
    return program


def export_pte(
    model: torch.nn.Module,
    example: dict[str, torch.Tensor] | tuple,
    recipe: Recipe,
    calibration: Iterable = (),
) -> PteResult:
    """The whole ExecuTorch path for one recipe (fp32, dynamic-int8 or int8)."""
    if recipe.quantization not in ("fp32", "int8", "dynamic-int8"):
        raise ExportError(
            f"ExecuTorch export supports fp32, int8 and dynamic-int8, not {recipe.quantization}"
        )
    example = _to_tuple(example)
    if not recipe.is_quantized:  # for_xnnpack copies: the caller's model keeps its mode
        return _lower_checked(for_xnnpack(model), example, recipe, [])
    model, swapped = quantized_graph(model, example, recipe, calibration)
    return _lower_checked(model, example, recipe, swapped)


def export_pte_qat(
    model: torch.nn.Module,
    example: dict[str, torch.Tensor] | tuple,
    recipe: Recipe,
    train_calls: Sequence,
    config: QatConfig,
    log: Callable[[str], None] = print,
) -> PteResult:
    """Static int8 by quantization-aware training (quantize.torch_qat), then as export_pte.

    ``train_calls`` are unlabelled calls at the example's shape (tokenized texts, as for
    calibration); the fp32 model is the teacher. Same checks and float_ops as export_pte.
    """
    return lower_qat(train_qat(model, example, recipe, train_calls, config, log), example, recipe)


def train_qat(
    model: torch.nn.Module,
    example: dict[str, torch.Tensor] | tuple,
    recipe: Recipe,
    train_calls: Sequence,
    config: QatConfig,
    log: Callable[[str], None] = print,
    distributed: Distributed | None = None,
) -> QatResult:
    """export_pte_qat's first half: the trained, converted PT2E graph, not yet lowered.
    (With ``distributed``, ranks other than 0 end in qat_quantize: WorkerRankDone.)"""
    from convbert_edge.quantize.torch_qat import qat_quantize

    if recipe.quantization != "int8":
        raise ExportError(f"QAT makes static int8 artifacts; recipe {recipe.quantization!r} is not")
    calls = [_to_tuple(c) for c in train_calls]
    qat = qat_quantize(model, _to_tuple(example), recipe, calls, config, log, distributed)
    log(f"      QAT: {config.steps} steps in {qat.seconds:.0f} s")
    return qat


def lower_qat(
    qat: QatResult, example: dict[str, torch.Tensor] | tuple, recipe: Recipe
) -> PteResult:
    """export_pte_qat's second half: lower train_qat's graph, with export_pte's checks."""
    return _lower_checked(qat.model, _to_tuple(example), recipe, qat.swapped)


def _lower_checked(
    model: torch.nn.Module, example: tuple, recipe: Recipe, swapped: list[str]
) -> PteResult:
    """Lower a float or converted PT2E graph; refuse compute left outside XNNPACK; note
    what stays float."""
    linears = linear_report(model) if recipe.is_quantized else Counter()
    result = lower_to_pte(model, example)
    result.linears = linears
    left = {op: n for op, n in result.undelegated.items() if any(c == op for c in COMPUTE_OPS)}
    if left:
        raise ExportError(f"XNNPACK did not take these compute ops: {left}")
    if recipe.is_quantized:
        result.float_ops = [
            {
                "op": f"embedding lookup ({name})",
                "reason": "int8 table with per-row scales, looked up by the portable embedding op "
                "(XNNPACK has no embedding kernel)",
            }
            for name in swapped
        ] + [
            {
                "op": "layer_norm",
                "reason": "kept float on purpose (mean, rsqrt and scale in fp32, inside the "
                "XNNPACK delegate: torch_stack.layer_norm, quantize.pt2e_quantizer)",
            },
            {
                "op": "gelu, softmax, add, mul, cat",
                "reason": "quantized for the linears and convolutions only, as the TFLite "
                "linear scope (an op between two of them may still run in int8): int8 adds "
                "and muls bought no speed and slowed the lowering (quantize.pt2e_quantizer)",
            },
            {
                "op": "attention matmul (activation x activation)",
                "reason": "not annotated by the XNNPACK quantizer; runs as fp32 inside XNNPACK",
            },
        ]
        if recipe.activations == "dynamic":
            result.float_ops.append(
                {"op": "activations", "reason": "dynamic: quantized per call inside each linear"}
            )
    return result
