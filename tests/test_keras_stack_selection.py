"""KerasStack's int8 choices score what ships: ``simulate`` runs the model ``convert`` gives
for a recipe, and ``--qat``'s check compares QAT with post-training int8 of the fp32 model.

On a tiny checkpoint (2 layers, hidden 32, seq 16) with a wide initialisation (0.2), so
that int8 rounding and a QAT run visibly move the logits.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from keras_helpers import make_checkpoint, padded_calls, tiny

from convbert_edge.evaluation import EvalSet
from convbert_edge.exporters import selection
from convbert_edge.exporters.stacks import KerasStack, QatSettings
from convbert_edge.quantize.recipes import recipe_for
from convbert_edge.runtime.litert import litert_runner
from convbert_edge.targets import Target
from convbert_edge.tasks import Task

# every test here converts or QAT-trains a Keras model (10-20 s each on 2 cores): slow tier
pytestmark = pytest.mark.slow

SEQ = 16
TASK = Task.SEQUENCE_CLASSIFICATION
CONFIG = tiny(initializer_range=0.2)


def _calls(seed: int, n: int) -> list[dict[str, np.ndarray]]:
    return padded_calls(CONFIG, SEQ, seed, n)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return make_checkpoint(CONFIG, TASK, tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="module")
def data():
    """(calibration calls, QAT training calls, held-out calls)."""
    return _calls(0, 16), _calls(100, 8), _calls(1000, 24)


def _int8(**overrides):
    return recipe_for("int8", calibration_samples=16, **overrides)


def _outputs(run, calls) -> np.ndarray:
    return np.concatenate([np.asarray(run(c)["logits"]) for c in calls])  # (n, labels)


def _weights(model) -> list[np.ndarray]:
    return [np.array(w) for w in model.get_weights()]


def _litert(model: bytes):
    runner = litert_runner(model)
    return lambda call: runner(**call)


@pytest.mark.parametrize(
    "overrides",
    [dict(int8_scope="linear"), dict(float_layers=("layer.0",)), dict(io_dtype="int8")],
    ids=["linear-scope", "float-layer", "int8-outputs"],
)
def test_simulate_runs_the_model_convert_ships(checkpoint, data, overrides):
    calibration, _, held = data
    stack = KerasStack(checkpoint, TASK)
    recipe = _int8(**overrides)
    shipped = stack.convert(Target.TFLITE, recipe, calibration[0], calibration)
    calibrated = stack.calibrate(calibration)
    simulated = _outputs(stack.simulate(recipe, calibrated), held)
    np.testing.assert_array_equal(simulated, _outputs(_litert(shipped.model), held))
    # ... and not the all-int8 model's (else the equality above proves nothing).
    all_int8 = _outputs(stack.simulate(_int8(), calibrated), held)
    assert simulated.dtype != all_int8.dtype or not np.array_equal(simulated, all_int8)


@pytest.fixture(scope="module")
def qat_stack(checkpoint, data):
    """(stack, train_qat's result with a large lr, the fp32 weights before it)."""
    calibration, train, _ = data
    stack = KerasStack(checkpoint, TASK)
    before = _weights(stack.model)
    # lr 1e-2: far larger than the export's 5e-6, so the QAT weights move well away.
    settings = QatSettings(steps=4, accumulate=2, lr=1e-2, calls=train, log=lambda _: None)
    trained = stack.train_qat(_int8(), calibration[0], calibration, settings)
    return stack, trained, before


def test_train_qat_leaves_the_fp32_model_alone(qat_stack):
    stack, trained, before = qat_stack
    after = _weights(stack.model)
    assert len(after) == len(before)
    for b, a in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    tuned = _weights(trained.model)
    assert any(not np.array_equal(t, b) for t, b in zip(tuned, before, strict=True))


def test_qat_check_scores_post_training_int8_of_the_fp32_model(checkpoint, data, qat_stack):
    calibration, _, held = data
    stack, trained, _ = qat_stack
    ptq = _outputs(stack.simulate(_int8(), stack.calibrate(calibration)), held)
    fresh = KerasStack(checkpoint, TASK)  # never trained: its int8 model is plain PTQ
    fresh_ptq = fresh.simulate(_int8(), fresh.calibrate(calibration))
    np.testing.assert_array_equal(ptq, _outputs(fresh_ptq, held))
    qat = _outputs(stack.qat_run(trained), held)
    assert np.abs(qat - ptq).max() > 1e-3, "QAT and PTQ sides are one model"


def test_qat_check_records_two_models(monkeypatch, data, qat_stack):
    """check_qat end to end, with a labelled dev set of held-out calls (labels: the fp32
    model's own predictions) in place of the data set's."""
    calibration, _, held = data
    stack, trained, _ = qat_stack
    labels = _outputs(stack.run, held).argmax(-1)
    dev = EvalSet("tiny/dev", TASK, "accuracy", held, labels)
    monkeypatch.setattr(selection, "eval_set", lambda *args, **kwargs: dev)
    options = SimpleNamespace(calibration="tiny", seq_len=SEQ, batch=1, cache_dir=None)
    check = selection.check_qat(stack, trained, _int8(), calibration, None, options, lambda _: None)
    assert check is not None and check.examples == len(held)
    assert check.agreement < 1.0, check  # two models, not one under two names
    assert check.as_dict()["agreement"] == check.agreement
