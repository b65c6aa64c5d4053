"""fold_constant_slices: the .pte stores the position rows a static-shape export reads.

The embeddings read the position table as ``weight[:seq_len]``; traced, that is a slice
of the whole table, and the lowered program kept all max_position_embeddings rows in
float (197 KB of the default model's .pte) and copied seq_len of them on every call.
"""

from __future__ import annotations

import pytest
import torch
from torch_helpers import make_inputs, sharpen, tiny_config

from convbert_edge.tasks import Task
from convbert_edge.torch_stack import MODEL_CLASSES
from convbert_edge.torch_stack import export_utils as eu

SEQ = 32
TABLE = "convbert.embeddings.position_embeddings.weight"


def classifier(max_positions: int) -> torch.nn.Module:
    torch.manual_seed(0)
    config = tiny_config(max_position_embeddings=max_positions)
    return sharpen(MODEL_CLASSES[Task.SEQUENCE_CLASSIFICATION](config)).eval()


def traced(model: torch.nn.Module) -> torch.fx.GraphModule:
    inputs = make_inputs((1, SEQ), 128)
    return torch.export.export(model, inputs, strict=False).module()


def position_slices(graph_module: torch.fx.GraphModule) -> list[torch.fx.Node]:
    return [
        n for n in graph_module.graph.nodes
        if n.target is torch.ops.aten.slice.Tensor
        and n.args[0].op == "get_attr" and n.args[0].target == TABLE
    ]  # fmt: skip


def test_folds_the_position_table_to_the_rows_read_and_computes_the_same():
    model = classifier(512)
    graph = traced(model)
    assert len(position_slices(graph)) == 1  # what the fold is for: a slice of all 512 rows

    folded = eu.fold_constant_slices(graph)

    assert position_slices(folded) == []
    assert TABLE not in dict(folded.named_parameters()) | dict(folded.named_buffers())
    constants = {n.target for n in folded.graph.nodes if n.op == "get_attr"}
    rows = [folded.get_buffer(t) for t in constants if t.startswith("_folded_slice_")]
    assert [tuple(r.shape) for r in rows] == [(SEQ, model.config.embedding_size)]
    assert torch.equal(rows[0], model.get_parameter(TABLE)[:SEQ])
    for seed in range(3):
        inputs = make_inputs((1, SEQ), 128, seed=seed)
        with torch.no_grad():
            assert torch.equal(folded(*inputs)["logits"], graph(*inputs)["logits"])


def test_leaves_the_graph_it_was_handed_and_can_fold_again():
    graph = traced(classifier(512))
    before = graph.code
    table = graph.get_parameter(TABLE).detach().clone()

    folded = eu.fold_constant_slices(graph)
    again = eu.fold_constant_slices(folded)  # nothing left to fold: the same graph

    assert graph.code == before and len(position_slices(graph)) == 1
    assert torch.equal(graph.get_parameter(TABLE), table)
    assert again.code == folded.code


def test_a_slice_of_computed_bounds_or_of_an_activation_is_left_alone():
    class Rows(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.table = torch.nn.Parameter(torch.arange(12.0).reshape(6, 2))

        def forward(self, x):
            return x[:, :2] + self.table[:3]  # an activation's slice, then the table's

    graph = torch.export.export(Rows(), (torch.ones(3, 4),), strict=False).module()
    folded = eu.fold_constant_slices(graph)
    slices = [n for n in folded.graph.nodes if n.target is torch.ops.aten.slice.Tensor]
    assert [n.args[0].op for n in slices] == ["placeholder"]
    assert torch.equal(folded(torch.ones(3, 4)), graph(torch.ones(3, 4)))


@pytest.mark.slow
def test_the_int8_pte_stores_only_the_rows_it_reads(monkeypatch):
    """Lowered with and without the fold: the program shrinks by the rows left out, in
    float (the quantizer leaves the position add float), and the slice op is gone."""
    from convbert_edge.exporters.executorch import export_pte
    from convbert_edge.quantize.recipes import recipe_for

    model = classifier(512)
    calls = [make_inputs((1, SEQ), 128, seed=i) for i in range(4)]
    recipe = recipe_for("int8", calibration_samples=4)
    folded = export_pte(model, calls[0], recipe, calls).program
    monkeypatch.setattr(eu, "fold_constant_slices", lambda graph_module: graph_module)
    whole = export_pte(model, calls[0], recipe, calls).program

    rows_left_out = (512 - SEQ) * model.config.embedding_size * 4  # float32 bytes
    assert len(whole) - len(folded) >= 0.95 * rows_left_out, (len(whole), len(folded))
