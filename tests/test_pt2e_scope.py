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
from convbert_edge.quantize.pt2e_config import pt2e_quantization_config
from convbert_edge.quantize.pt2e_quantizer import KeepFloat, layer_norm_modules
from convbert_edge.quantize.recipes import full_int8
from convbert_edge.quantize.torch_embeddings import quantize_word_embeddings
from convbert_edge.tasks import Task
from convbert_edge.torch_stack import MODEL_CLASSES
from convbert_edge.torch_stack.export_utils import base_op_name, op_name
from convbert_edge.torch_stack.formulation import for_xnnpack

pytestmark = pytest.mark.usefixtures("one_torch_thread")

WEIGHTED = {"linear", "conv1d", "conv2d", "convolution"}
# ops that move or copy values without arithmetic: int8 passes through them unchanged
SHAPE_OPS = {
    "view", "reshape", "_unsafe_view", "permute", "transpose", "unsqueeze", "squeeze",
    "clone", "dropout", "contiguous", "expand", "flatten", "t", "slice", "select",
}  # fmt: skip
QDQ = {"quantize_per_tensor", "dequantize_per_tensor"}


def op(node: torch.fx.Node) -> str:
    """"linear" for aten.linear.default, "quantize_per_tensor" for its q node, etc."""
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


def xnnpack_quantizer_graph(model, example, calls) -> torch.fx.GraphModule:
    """The same model through XNNPACK's quantizer with all its annotators (and LayerNorm
    kept float, as ours does): the scope ours narrows."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import XNNPACKQuantizer
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer import ComposableQuantizer

    model = for_xnnpack(model).eval()
    quantize_word_embeddings(model)
    graph = torch.export.export(model, example, strict=False).module()
    config = pt2e_quantization_config(full_int8(len(calls)))
    quantizer = ComposableQuantizer(
        [KeepFloat(layer_norm_modules(model)), XNNPACKQuantizer().set_global(config)]
    )
    prepared = prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for call in calls:
            prepared(*call)
    return convert_pt2e(prepared)


def test_int8_sits_only_at_linears_and_convolutions():
    model, calls = tiny_model_and_calls()
    graph, _ = quantized_graph(model, calls[0], full_int8(len(calls)), calls)
    quantized = [n for n in graph.graph.nodes if op(n) == "quantize_per_tensor"]
    assert quantized, "nothing was quantized"
    linears = [n for n in graph.graph.nodes if op(n) == "linear"]
    assert linears and all(op(n.args[0]) == "dequantize_per_tensor" for n in linears)
    assert stray_quantizations(graph) == []


def test_xnnpack_s_own_scope_quantizes_more_on_the_same_model():
    model, calls = tiny_model_and_calls()
    stray = stray_quantizations(xnnpack_quantizer_graph(model, calls[0], calls))
    assert stray, "the full XNNPACK scope should quantize adds, muls or cat as well"
