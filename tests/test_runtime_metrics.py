"""The comparison metrics and tolerance checks that every verify relies on."""

import math

import numpy as np
import pytest

from convbert_edge.errors import ExportError
from convbert_edge.exporters.spec import SPEC, tolerance_for
from convbert_edge.runtime.metrics import compare_output
from convbert_edge.runtime.tolerances import Tolerance
from convbert_edge.runtime.verify import compare_outputs


def test_identical_outputs():
    x = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    m = compare_output("logits", x, x.copy())
    assert m.max_abs == 0 and m.mean_abs == 0 and math.isinf(m.sqnr_db) and m.sqnr_db > 0
    assert m.cosine == pytest.approx(1.0) and m.argmax_agreement == 1.0


def test_known_values():
    ref = np.array([[1.0, 2.0], [3.0, -1.0]])
    out = np.array([[1.0, 2.5], [2.0, -1.0]])
    m = compare_output("x", ref, out)
    assert m.max_abs == pytest.approx(1.0)
    assert m.mean_abs == pytest.approx(0.375)
    assert m.sqnr_db == pytest.approx(10 * math.log10(15 / 1.25))
    assert m.argmax_agreement == 1.0
    flipped = compare_output("x", ref, np.array([[2.0, 1.0], [3.0, -1.0]]))
    assert flipped.argmax_agreement == 0.5


def test_nan_output_fails_every_bound():
    ref = np.ones((2, 3))
    out = ref.copy()
    out[0, 0] = np.nan
    m = compare_output("x", ref, out)
    assert Tolerance(max_abs=1.0).failures(m) and Tolerance(min_cosine=0.0).failures(m)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        compare_output("x", np.zeros((2, 3)), np.zeros((3, 2)))


def test_compare_outputs_reports_names_then_shapes_then_values():
    tol = Tolerance(max_abs=1e-4)
    ref = {"start_logits": np.zeros((1, 4)), "end_logits": np.zeros((1, 4)), "x": np.zeros(2)}
    actual = {
        "start_logits": np.full((1, 4), 1e-3),
        "end_logits": np.zeros((1, 5)),
        "y": np.zeros(2),
    }
    _, failures = compare_outputs(ref, actual, tol)
    assert "max_abs" in failures["start_logits"][0]
    assert "shape" in failures["end_logits"][0]
    assert "missing" in failures["x"][0]
    assert "unexpected" in failures["y"][0]


def test_every_tolerance_is_looked_up_by_target_and_quantization():
    for target, offers in SPEC.items():
        for quant, offer in offers.items():
            assert tolerance_for(target.value, quant.value) is offer.tolerance
    with pytest.raises(ExportError, match="onnx does not offer int16x8; choose one of"):
        tolerance_for("onnx", "int16x8")
    with pytest.raises(ValueError, match="choose one of"):
        tolerance_for("coreml", "fp32")
