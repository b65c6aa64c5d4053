"""runtime.litert and runtime.pte: the one way every caller opens a .tflite or a .pte."""

from __future__ import annotations

import pytest

from convbert_edge.errors import ArtifactError
from convbert_edge.runtime.litert import litert_interpreter, litert_runner
from convbert_edge.runtime.pte import PteForward, load_pte

NOT_A_MODEL = b"\x00" * 64


@pytest.mark.parametrize("opener", [litert_interpreter, litert_runner])
def test_litert_names_what_it_could_not_load(opener, tmp_path):
    pytest.importorskip("ai_edge_litert")
    with pytest.raises(
        ArtifactError, match="a .tflite of 64 bytes could not be loaded by the LiteRT"
    ):
        opener(NOT_A_MODEL)
    path = tmp_path / "model.tflite"
    path.write_bytes(NOT_A_MODEL)
    with pytest.raises(ArtifactError, match=f"{path} could not be loaded by the LiteRT"):
        opener(path, num_threads=2)


def test_load_pte_checks_the_header_before_executorch_sees_the_file(tmp_path):
    path = tmp_path / "model.pte"
    path.write_bytes(NOT_A_MODEL)
    with pytest.raises(ArtifactError, match="is not an ExecuTorch program"):
        load_pte(path)


class _Spy:
    """An ExecuTorch method stand-in; records torch's intra-op thread count at each call."""

    def __init__(self):
        self.seen = []

    def execute(self, args):
        import torch

        self.seen.append(torch.get_num_threads())
        return tuple(args)


def test_pte_forward_runs_with_torch_at_one_thread_and_restores_it():
    torch = pytest.importorskip("torch")
    spy = _Spy()
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        outputs = PteForward(spy)((torch.zeros(1),))
        assert spy.seen == [1] and torch.get_num_threads() == 2
        assert isinstance(outputs, list) and len(outputs) == 1
    finally:
        torch.set_num_threads(before)
