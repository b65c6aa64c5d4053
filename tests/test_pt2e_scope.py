"""What PT2E int8 covers in the PyTorch stack: the linears and convolutions, nothing else.

quantize.pt2e_quantizer runs XNNPACK's quantizer with its linear and convolution
annotators only, the scope of the TFLite linear-scope model. In the converted graph that
means every activation quantize node sits at a weighted op: on its output, or on the way
into one (through reshapes, transposes and the dequantize that follows it). XNNPACK's
own quantizer, with its add, mul and cat annotators, also puts them on residual sums,
masks and the gated product; the test shows that difference on the same model.
Tiny sequence classifier (2 layers, hidden 64, seq 16).
"""

from __future__ import annotations

import pytest
import torch
from torch_helpers import make_inputs, tiny_config

from convbert_edge.exporters.executorch import quantized_graph
from convbert_edge.quantize import pt2e_quantizer
from convbert_edge.quantize.recipes import full_int8
from convbert_edge.tasks import Task
from convbert_edge.torch_stack import MODEL_CLASSES
from convbert_edge.torch_stack.export_utils import base_op_name, op_name

pytestmark = pytest.mark.usefixtures("one_torch_thread")

WEIGHTED = {"linear", "conv1d", "conv2d", "convolution"}
# ops that move or copy values without arithmetic: int8 passes through them unchanged
SHAPE_OPS = {
    "view", "reshape", "_unsafe_view", "permute", "transpose", "unsqueeze", "squeeze",
    "clone", "dropout", "contiguous", "expand", "flatten", "t", "slice", "select",
}  # fmt: skip
QDQ = {"quantize_per_tensor", "dequantize_per_tensor"}


def op(node: torch.fx.Node) -> str:
    """ "linear" for aten.linear.default, "quantize_per_tensor" for its q node, etc."""
    if node.op != "call_function":
        return node.op
    return base_op_name(op_name(node.target))


def written_by_weighted(node: torch.fx.Node) -> bool:
    while op(node) in SHAPE_OPS | QDQ:
        node = node.args[0]
    return op(node) in WEIGHTED


def read_by_weighted(node: torch.fx.Node) -> bool:
    users, seen = list(node.users), set()
    while users:
        user = users.pop()
        if user in seen:
            continue
        seen.add(user)
        if op(user) in WEIGHTED:
            return True
        if op(user) in SHAPE_OPS | QDQ:
            users.extend(user.users)
    return False


def stray_quantizations(graph: torch.fx.GraphModule) -> list[str]:
    """The activation quantize nodes neither written by nor read by a linear or conv."""
    return [
        f"{node.name} (after {op(node.args[0])})"
        for node in graph.graph.nodes
        if op(node) == "quantize_per_tensor"
        and not written_by_weighted(node.args[0])
        and not read_by_weighted(node)
    ]


def tiny_model_and_calls():
    torch.manual_seed(0)
    model = MODEL_CLASSES[Task.SEQUENCE_CLASSIFICATION](tiny_config()).eval()
    calls = [make_inputs((1, 16), 128, seed=i) for i in range(3)]
    return model, calls


def test_int8_sits_only_at_linears_and_convolutions():
    model, calls = tiny_model_and_calls()
    graph, _ = quantized_graph(model, calls[0], full_int8(len(calls)), calls)
    quantized = [n for n in graph.graph.nodes if op(n) == "quantize_per_tensor"]
    assert quantized, "nothing was quantized"
    linears = [n for n in graph.graph.nodes if op(n) == "linear"]
    assert linears and all(op(n.args[0]) == "dequantize_per_tensor" for n in linears)
    assert stray_quantizations(graph) == []


def test_xnnpack_s_own_scope_quantizes_more_on_the_same_model(monkeypatch):
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import XNNPACKQuantizer

    # the same pipeline (LayerNorm still kept float), with XNNPACK's quantizer and all its
    # annotators in place of the linear-and-conv subclass
    monkeypatch.setattr(pt2e_quantizer, "_weighted_ops_quantizer", lambda: XNNPACKQuantizer)
    model, calls = tiny_model_and_calls()
    graph, _ = quantized_graph(model, calls[0], full_int8(len(calls)), calls)
    assert stray_quantizations(graph), "the full XNNPACK scope should quantize add, mul or cat"
