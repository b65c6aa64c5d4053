"""runtime.pte_profile: ExecuTorch's own per-operator profile of a .pte."""

from __future__ import annotations

import pytest
import torch
from torch_helpers import make_inputs, sharpen, tiny_config

from convbert_edge.errors import ArtifactError
from convbert_edge.runtime.pte_profile import profile_pte


@pytest.fixture(scope="module")
def tiny_int8_pte(tmp_path_factory):
    from convbert_edge.exporters.executorch import export_pte
    from convbert_edge.quantize.recipes import recipe_for
    from convbert_edge.tasks import Task
    from convbert_edge.torch_stack import MODEL_CLASSES

    torch.manual_seed(0)
    model = sharpen(MODEL_CLASSES[Task.SEQUENCE_CLASSIFICATION](tiny_config())).eval()
    calls = [make_inputs((1, 16), 128, seed=i, dtype=torch.int32) for i in range(4)]
    result = export_pte(model, calls[0], recipe_for("int8", calibration_samples=4), calls)
    path = tmp_path_factory.mktemp("pte") / "model.pte"
    path.write_bytes(result.program)
    return path


@pytest.mark.slow
def test_the_profile_names_xnnpack_operators_and_adds_up(tiny_int8_pte):
    profile = profile_pte(tiny_int8_pte, threads=1, runs=5)
    kinds = profile.by_kind()
    # The tiny classifier: 2 layers of int8 linears (query, key, value, conv kernel, conv
    # out, attention output, FFN in and out) plus the pooler and classifier.
    gemms = sum(n for kind, (n, _) in kinds.items() if kind.startswith("Fully Connected"))
    assert gemms >= 2 * 8, kinds
    assert any(kind.startswith("native_call_embedding") for kind in kinds), kinds
    assert 0 < profile.operators_ms <= profile.delegate_ms <= profile.execute_ms
    assert "XNNPACK operators" in profile.text()


def test_a_file_that_is_not_a_program_is_refused(tmp_path):
    bad = tmp_path / "model.pte"
    bad.write_bytes(b"not a flatbuffer at all" * 10)
    with pytest.raises(ArtifactError):
        profile_pte(bad)
    with pytest.raises(ArtifactError, match="does not exist"):
        profile_pte(tmp_path / "missing.pte")


@pytest.mark.slow
def test_zero_runs_is_refused(tiny_int8_pte):
    with pytest.raises(ArtifactError, match="at least one run"):
        profile_pte(tiny_int8_pte, runs=0)
