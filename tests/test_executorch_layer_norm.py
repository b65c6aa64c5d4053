"""LayerNorm inside the XNNPACK delegate (torch_stack.layer_norm, quantize.pt2e_quantizer).

executorch 1.5.1's XNNPACK partitioner has no LayerNorm, so the exporter writes it as
mean.dim, sub, mul, add and rsqrt on a copy of the model, and the PT2E quantizer keeps
those ops float. Checked here: the numerics against nn.LayerNorm, that the swap leaves
the model it was handed alone and keeps the parameter names, that no int8 rounding
lands inside a LayerNorm, and that the lowered tiny model, fp32 and int8, runs in one
XNNPACK delegate (with torch_stack.formulation's constant mask and the heads' slice) and
agrees with eager PyTorch.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch_helpers import make_inputs, sharpen, tiny_config

from convbert_edge.quantize.recipes import recipe_for
from convbert_edge.tasks import Task
from convbert_edge.torch_stack import MODEL_CLASSES
from convbert_edge.torch_stack.layer_norm import XnnpackLayerNorm, with_xnnpack_layer_norms

# fp32, XnnpackLayerNorm against nn.LayerNorm. Both compute the same two-pass statistics;
# they differ in summation order and in rsqrt against 1/sqrt: a few float32 ulps of the
# output (|y| up to ~5, where an ulp is 4.8e-7). Measured: at most 1.4e-6 on random normal
# inputs (widths 64-768), 7.2e-7 on every LayerNorm input of the embedded default model on
# real text. 1e-5 is about 20 ulps; an error in the formula (a biased variance, eps
# outside the root, a mean over the wrong axis) is 1e-3 or more.
LAYER_NORM_ATOL = 1e-5
PTE_ATOL = 1e-4  # fp32 .pte against eager, as tests/test_torch_stack_export.py (measured 6e-7)
SEQ = 16


def tiny_classifier() -> torch.nn.Module:
    torch.manual_seed(0)
    return sharpen(MODEL_CLASSES[Task.SEQUENCE_CLASSIFICATION](tiny_config())).eval()


def layer_norm_pair(width: int, eps: float = 1e-12) -> tuple[torch.nn.LayerNorm, XnnpackLayerNorm]:
    torch.manual_seed(width)
    norm = torch.nn.LayerNorm(width, eps=eps)
    with torch.no_grad():
        norm.weight.copy_(1.0 + 0.3 * torch.randn(width))
        norm.bias.copy_(0.3 * torch.randn(width))
    return norm, XnnpackLayerNorm.from_layer_norm(norm)


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


@pytest.mark.parametrize("width", [64, 256, 768])
def test_matches_nn_layer_norm_on_random_inputs(width):
    norm, ours = layer_norm_pair(width)
    generator = torch.Generator().manual_seed(0)
    x = 3.0 * torch.randn(2, SEQ, width, generator=generator)
    with torch.no_grad():
        assert max_diff(ours(x), norm(x)) <= LAYER_NORM_ATOL


@pytest.mark.parametrize("width", [64, 256, 768])
def test_is_as_accurate_as_nn_layer_norm_on_ill_conditioned_rows(width):
    """Rows whose mean is up to 2000 times their spread: float32 loses the statistics in
    both (measured 6.7e-5 to 4.2e-4 from a float64 reference, for either), so each is
    held to the float64 result instead of to the other: ours within 2x nn.LayerNorm's
    error (measured 0.77x to 1.36x)."""
    norm, ours = layer_norm_pair(width)
    generator = torch.Generator().manual_seed(0)
    spread = torch.logspace(-2, 1, SEQ).view(1, SEQ, 1)
    x = spread * torch.randn(2, SEQ, width, generator=generator)
    x = x + 20.0 * torch.randn(2, SEQ, 1, generator=generator)
    with torch.no_grad():
        exact = torch.nn.functional.layer_norm(
            x.double(), (width,), norm.weight.double(), norm.bias.double(), norm.eps
        )
        theirs = max_diff(norm(x).double(), exact)
        assert max_diff(ours(x).double(), exact) <= 2 * theirs + 1e-6


def test_matches_nn_layer_norm_on_the_default_models_activations():
    from convbert_edge.default_model import default_checkpoint
    from convbert_edge.tokenizer import checkpoint_tokenizer

    model = MODEL_CLASSES[Task.SEQUENCE_CLASSIFICATION].from_pretrained(default_checkpoint())
    texts = (Path(__file__).parent / "data" / "texts.txt").read_text().splitlines()[:8]
    batch = checkpoint_tokenizer(default_checkpoint())(
        texts, padding="max_length", max_length=128, truncation=True, return_tensors="np"
    )
    batch = {name: torch.from_numpy(ids).long() for name, ids in batch.items()}
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        m.register_forward_pre_hook(lambda _m, args, name=n: seen.setdefault(name, args[0]))
        for n, m in model.named_modules()
        if isinstance(m, torch.nn.LayerNorm)
    ]
    with torch.no_grad():
        model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    for hook in hooks:
        hook.remove()
    assert len(seen) == 1 + 2 * model.config.num_hidden_layers
    with torch.no_grad():
        for name, x in seen.items():
            norm = model.get_submodule(name)
            ours = XnnpackLayerNorm.from_layer_norm(norm)
            assert max_diff(ours(x), norm(x)) <= LAYER_NORM_ATOL, name


def test_the_swap_is_a_copy_with_the_same_parameter_names():
    model = tiny_classifier()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    swapped = with_xnnpack_layer_norms(model)

    norms = [n for n, m in model.named_modules() if isinstance(m, torch.nn.LayerNorm)]
    assert len(norms) == 1 + 2 * 2
    assert all(type(model.get_submodule(n)) is torch.nn.LayerNorm for n in norms)
    assert all(type(swapped.get_submodule(n)) is XnnpackLayerNorm for n in norms)
    # Same names and values, so a transformers state dict loads into either.
    state = swapped.state_dict()
    assert list(state) == list(before)
    assert all(torch.equal(state[k], v) for k, v in before.items())
    swapped.load_state_dict(before, strict=True)

    inputs = make_inputs((1, SEQ), 128)
    with torch.no_grad():
        assert max_diff(swapped(*inputs)["logits"], model(*inputs)["logits"]) <= LAYER_NORM_ATOL
        swapped.get_submodule(norms[0]).weight.add_(1.0)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())


def test_only_last_dim_affine_layer_norms_are_rewritten():
    from convbert_edge.errors import ExportError

    with pytest.raises(ExportError, match="last-dim affine"):
        XnnpackLayerNorm.from_layer_norm(torch.nn.LayerNorm(8, elementwise_affine=False))
    model = torch.nn.Sequential(torch.nn.LayerNorm((4, 8)), torch.nn.LayerNorm(8))
    swapped = with_xnnpack_layer_norms(model)
    assert [type(m) for m in swapped] == [torch.nn.LayerNorm, XnnpackLayerNorm]


@pytest.mark.slow
def test_int8_rounding_never_lands_inside_a_layer_norm():
    """The XNNPACK quantizer annotates every add and mul, and propagates its input's int8
    observer to a view and mean.dim: both would round LayerNorm's statistics. Only the
    LayerNorm's output may be quantized (for the int8 linears after it)."""
    from convbert_edge.exporters.executorch import quantized_graph
    from convbert_edge.quantize.torch_float_layers import in_modules

    model = tiny_classifier()
    calls = [make_inputs((1, SEQ), 128, seed=i) for i in range(4)]
    graph, _ = quantized_graph(model, calls[0], recipe_for("int8", calibration_samples=4), calls)
    norms = [n for n, m in model.named_modules() if isinstance(m, torch.nn.LayerNorm)]

    ops = [n for n in graph.graph.nodes if n.op == "call_function" and not _is_qdq(n)]
    for norm in norms:
        inside = [n for n in ops if in_modules(n, [norm])]  # graph order: the output is last
        rounded = [n.name for n in inside[:-1] if any(_is_qdq(user) for user in n.users)]
        assert rounded == [], norm
        means = [n for n in inside if "mean" in str(n.target)]
        assert len(means) == 2, norm
        # What the propagation would have made of the first mean: view -> q -> dq -> mean.
        assert not any(_is_qdq(mean.args[0]) for mean in means), norm


def _is_qdq(node) -> bool:
    return isinstance(node, torch.fx.Node) and "quantize_per_tensor" in str(node.target)


# What the tiny classifier leaves outside XNNPACK once LayerNorm and the mask are inside:
# the word and token-type lookups (int8: also the word table's per-row scales) and the
# mask's cast and unsqueezes, all before the encoder.
OUTSIDE_XNNPACK = {"embedding", "_to_dim_order", "unsqueeze"}


@pytest.mark.slow
@pytest.mark.parametrize("quantization", ["fp32", "int8"])
def test_the_encoder_and_head_lower_into_one_xnnpack_delegate(quantization, tmp_path):
    """With the reference graph the tiny model (2 layers) lowered to 8 delegates, fp32 and
    int8, cut at its 5 native_layer_norm ops, at each layer's amax/amin of the mask shift
    and at the head's select; XNNPACK-shaped LayerNorms left 4; with the constant mask
    and the head's slice (torch_stack.formulation) it is one."""
    from convbert_edge.exporters.executorch import export_pte
    from convbert_edge.exporters.spec import tolerance_for
    from convbert_edge.runtime.metrics import compare_output
    from convbert_edge.runtime.pte import load_pte

    model = tiny_classifier()
    calls = [make_inputs((1, SEQ), 128, seed=i) for i in range(4)]
    recipe = recipe_for(quantization, calibration_samples=4)
    result = export_pte(model, calls[0], recipe, calls)

    assert set(result.undelegated) <= OUTSIDE_XNNPACK, result.undelegated
    assert result.delegated_calls == 1, (result.delegated_calls, result.undelegated)
    path = tmp_path / "model.pte"
    path.write_bytes(result.program)
    forward = load_pte(path)
    if quantization == "fp32":
        for call in calls:
            with torch.no_grad():
                want = model(*call)["logits"]
            assert max_diff(forward(call)[0], want) <= PTE_ATOL
        return
    # int8 against the fp32 model, with the target's own tolerance (measured here: cosine
    # 0.998-0.99998, SQNR 24.5-38 dB, argmax all equal).
    tolerance = tolerance_for("executorch", "int8")
    for call in [make_inputs((1, SEQ), 128, seed=100 + i) for i in range(4)]:
        with torch.no_grad():
            want = model(*call)["logits"].numpy()
        metrics = compare_output("logits", want, forward(call)[0].numpy())
        assert tolerance.failures(metrics) == [], metrics
