"""exporters.tflite_calibrated: calibrate once, quantize many; float layers stay float."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from keras_helpers import tiny

from convbert_edge.errors import ExportError
from convbert_edge.exporters.tflite import convert
from convbert_edge.exporters.tflite_calibrated import (
    calibrate,
    float_layer_nodes,
    quantize_calibrated,
)
from convbert_edge.exporters.tflite_ops import INT8_COMPUTE_OPS, op_details
from convbert_edge.keras_stack import model_class_for
from convbert_edge.quantize.recipes import recipe_for
from convbert_edge.runtime.litert import litert_runner
from convbert_edge.tasks import Task

# the module's model is calibrated and converted three ways (about 10 s) before any test: slow tier
pytestmark = pytest.mark.slow

SEQ = 16


@pytest.fixture(scope="module")
def tiny_model():
    import keras

    keras.utils.set_random_seed(0)
    config = tiny()
    model = model_class_for(Task.SEQUENCE_CLASSIFICATION)(config)
    rng = np.random.default_rng(0)
    calls = []
    for _ in range(24):
        length = int(rng.integers(4, SEQ + 1))
        mask = (np.arange(SEQ) < length).astype(np.int32)[None]
        ids = rng.integers(1, config.vocab_size, (1, SEQ)).astype(np.int32) * mask
        calls.append({"input_ids": ids, "attention_mask": mask, "token_type_ids": 0 * mask})
    model(calls[0])
    export_model = model.build_for_export(1, SEQ)
    return export_model, calls, calibrate(export_model, calls[:16])


def _run(model_bytes, call):
    return litert_runner(model_bytes)(**call)["logits"]


def _compute_dtypes(model_bytes) -> Counter:
    return Counter(
        (name, dtypes[0]) for name, dtypes in op_details(model_bytes) if name in INT8_COMPUTE_OPS
    )


def test_all_int8_is_the_converters_own_int8_model(tiny_model):
    export_model, calls, calibrated = tiny_model
    ours = quantize_calibrated(calibrated)
    theirs = convert(export_model, recipe_for("int8", calibration_samples=16), calls[:16]).model
    assert _compute_dtypes(ours) == _compute_dtypes(theirs)
    assert all(dtype == "int8" for _, dtype in _compute_dtypes(ours))
    for call in calls[16:]:
        np.testing.assert_array_equal(_run(ours, call), _run(theirs, call))


def test_float_layer_keeps_exactly_its_ops_float(tiny_model):
    export_model, calls, calibrated = tiny_model
    mixed = quantize_calibrated(calibrated, ("layer.0",))
    counts = _compute_dtypes(mixed)
    all_int8 = _compute_dtypes(quantize_calibrated(calibrated))
    floats = sum(n for (_, dtype), n in counts.items() if dtype == "float32")
    per_layer = (sum(all_int8.values()) - 2) // 2  # two layers, two classifier denses
    assert floats == per_layer, counts
    head = _compute_dtypes(quantize_calibrated(calibrated, ("head",)))
    assert head[("FULLY_CONNECTED", "float32")] == 2, head


def test_float_layers_bring_outputs_closer_to_fp32(tiny_model):
    export_model, calls, calibrated = tiny_model
    every = ("layer.0", "layer.1", "head")
    int8, mostly_float = quantize_calibrated(calibrated), quantize_calibrated(calibrated, every)
    held_out = calls[16:]
    names = ("input_ids", "attention_mask", "token_type_ids")
    reference = [np.asarray(export_model([c[k] for k in names])["logits"]) for c in held_out]

    def error(model_bytes) -> float:
        pairs = zip(held_out, reference, strict=True)
        return float(np.mean([np.abs(_run(model_bytes, c) - r).mean() for c, r in pairs]))

    err_int8, err_float = error(int8), error(mostly_float)
    # The embeddings (lookup, sum, LayerNorm) stay int8 in both, so the error does not
    # vanish; it must shrink, or the float layers were not float.
    assert err_float < err_int8, (err_float, err_int8)


def test_unknown_units_are_errors(tiny_model):
    _, _, calibrated = tiny_model
    with pytest.raises(ExportError, match="matches no op"):
        float_layer_nodes(calibrated, ("layer.7",))
    with pytest.raises(ExportError, match="unknown layer unit"):
        float_layer_nodes(calibrated, ("encoder",))


def test_linear_scope_keeps_only_linear_layers_int8(tiny_model):
    export_model, calls, calibrated = tiny_model
    linear = quantize_calibrated(calibrated, scope="linear")
    counts = _compute_dtypes(linear)
    assert counts[("FULLY_CONNECTED", "int8")] == sum(
        n for (op, _), n in _compute_dtypes(quantize_calibrated(calibrated)).items()
        if op == "FULLY_CONNECTED"
    )  # fmt: skip
    assert counts[("BATCH_MATMUL", "float32")] > 0 and counts[("BATCH_MATMUL", "int8")] == 0
    others = {name: dtypes[0] for name, dtypes in op_details(linear) if name in ("SOFTMAX", "MEAN")}
    assert set(others.values()) == {"float32"}, others
    with pytest.raises(ExportError, match="int8 scope"):
        quantize_calibrated(calibrated, scope="most")
