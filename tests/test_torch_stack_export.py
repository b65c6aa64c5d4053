"""Export of the PyTorch stack: torch.export(strict=True), XNNPACK lowering, .pte execution.

Every head at batch 1, seq 128. The lowered graph must hold every linear, matmul and
convolution inside an XNNPACK delegate, and the dynamic convolution must not lower to
gather/index ops (transformers' unfold does, and that is where its .pte loses its time).
"""

from __future__ import annotations

import pytest
import torch
from torch_helpers import max_abs_diffs, sharpen, tiny_config

from convbert_edge.config import ConvBertConfig
from convbert_edge.runtime.pte import load_pte
from convbert_edge.tasks import Task
from convbert_edge.torch_stack import MODEL_CLASSES
from convbert_edge.torch_stack import export_utils as eu
from convbert_edge.torch_stack.attention import dynamic_convolution

EXPORT_ATOL = 1e-6  # torch.export program against eager
PTE_ATOL = 1e-4  # XNNPACK .pte against eager
SEQ_LEN = 128


def sharp_model(task: Task, config: ConvBertConfig) -> torch.nn.Module:
    torch.manual_seed(0)
    return sharpen(MODEL_CLASSES[task](config)).eval()


def eager(model, inputs) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return model(*inputs)


def as_dict(model, outputs) -> dict[str, torch.Tensor]:
    return dict(zip(model.output_names, outputs, strict=True))


def padded_inputs(model):
    input_ids, attention_mask, token_type_ids = model.example_inputs(1, SEQ_LEN)
    attention_mask[..., 100:] = 0
    input_ids[..., 100:] = 0
    token_type_ids[..., 50:100] = 1
    return input_ids, attention_mask, token_type_ids


def check_lowered_graph(edge) -> None:
    census = eu.op_census(edge)
    assert census.delegates >= 1
    assert census.outside_matching(eu.GEMM_OPS) == {}, census.outside
    # Only the word and token-type lookups may read by index, nothing in the encoder.
    lookups = census.outside_matching(eu.GATHER_OPS)
    assert lookups == {"aten.embedding.default": 2}, census.outside


@pytest.mark.parametrize(
    "task",
    # one head lowers in the fast tier; each lowering takes 10-20 s on 2 cores
    [
        t if t is Task.SEQUENCE_CLASSIFICATION else pytest.param(t, marks=pytest.mark.slow)
        for t in Task
    ],
    ids=lambda t: t.value,
)
def test_export_lower_and_run(task, tmp_path):
    model = sharp_model(task, tiny_config())
    inputs = padded_inputs(model)
    expected = eager(model, inputs)

    program = eu.export_program(model, inputs, strict=True)
    exported = program.module()(*inputs)
    diffs = max_abs_diffs(exported, expected)
    assert max(diffs.values()) <= EXPORT_ATOL, diffs

    edge = eu.lower_to_xnnpack(program)
    check_lowered_graph(edge)
    pte = eu.write_pte(edge, tmp_path / f"{task.value}.pte")
    diffs = max_abs_diffs(as_dict(model, load_pte(pte)(inputs)), expected)
    assert max(diffs.values()) <= PTE_ATOL, diffs


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["conv-bert-small", "conv-bert-medium-small"])
def test_public_shapes_lower_fully(preset, tmp_path):
    config = ConvBertConfig.preset(preset, num_hidden_layers=2)
    model = MODEL_CLASSES[Task.BASE](config).eval()
    inputs = padded_inputs(model)
    edge = eu.lower_to_xnnpack(eu.export_program(model, inputs))
    check_lowered_graph(edge)
    pte = eu.write_pte(edge, tmp_path / "model.pte")
    got = as_dict(model, load_pte(pte)(inputs))
    assert max(max_abs_diffs(got, eager(model, inputs)).values()) <= PTE_ATOL


class DynamicConv(torch.nn.Module):
    def forward(self, values, kernels):
        return dynamic_convolution(values, torch.softmax(kernels, dim=-1))


@pytest.mark.parametrize("kernel_size", [3, 9])
def test_dynamic_convolution_lowers_without_gather(kernel_size):
    values, kernels = torch.randn(1, SEQ_LEN, 64), torch.randn(1, SEQ_LEN, 4, kernel_size)
    program = eu.export_program(DynamicConv(), (values, kernels))
    aten_ops = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert not any(
        name in op for op in aten_ops for name in ("index", "gather", "unfold", "im2col")
    ), aten_ops
    edge = eu.lower_to_xnnpack(program)
    census = eu.op_census(edge)
    # All arithmetic in one XNNPACK delegate. The zero padding may be decomposed into
    # full + cat, and XNNPACK takes no `full`: a constant fill of (b, (k-1)//2, a) may
    # stay outside, which is not an index op.
    assert census.delegates == 1, census
    assert set(census.outside) <= {"aten.full.default"}, census


def test_dynamic_convolution_is_the_unfold_it_replaces():
    values, kernels = torch.randn(2, 16, 12), torch.softmax(torch.randn(2, 16, 3, 5), dim=-1)
    # The reference: unfold k neighbours (zero padding), then a per-head matmul.
    unfolded = torch.nn.functional.unfold(
        values.transpose(1, 2).unsqueeze(-1), kernel_size=[5, 1], padding=[2, 0]
    )  # (b, a*k, s)
    unfolded = unfolded.transpose(1, 2).reshape(2 * 16 * 3, 4, 5)  # (b*s*nh, d, k)
    expected = torch.matmul(unfolded, kernels.reshape(-1, 5, 1)).reshape(2, 16, 3, 4)
    assert torch.allclose(dynamic_convolution(values, kernels), expected, atol=1e-6)


def test_multiple_choice_exports_its_choice_axis(tmp_path):
    model = sharp_model(Task.MULTIPLE_CHOICE, tiny_config())
    inputs = model.example_inputs(1, 32, num_choices=3)
    program = eu.export_program(model, inputs)
    assert tuple(program.module()(*inputs)["logits"].shape) == (1, 3)


@pytest.mark.slow
def test_int32_inputs_export_and_run(tmp_path):
    # Android passes int32 ids; the casts to int64 happen inside the program.
    model = sharp_model(Task.QUESTION_ANSWERING, tiny_config())
    inputs = tuple(t.to(torch.int32) for t in padded_inputs(model))
    edge = eu.lower_to_xnnpack(eu.export_program(model, inputs))
    check_lowered_graph(edge)
    got = as_dict(model, load_pte(eu.write_pte(edge, tmp_path / "qa.pte"))(inputs))
    assert max(max_abs_diffs(got, eager(model, inputs)).values()) <= PTE_ATOL
