"""The stack adapters (exporters/stacks.py): one declared interface, no state between calls.

Both adapters satisfy ``ModelStack``; each stage returns a new frozen object that the
caller hands on, so a second calibration, a second QAT run or a QAT model trained for
another recipe cannot be picked up silently. On a tiny 2-layer checkpoint (hidden 32,
seq 16) with a wide initialisation, so that int8 rounding visibly moves the logits.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from keras_helpers import padded_calls, tiny

from convbert_edge.exporters.stacks import (
    KerasCalibration,
    KerasStack,
    ModelStack,
    QatSettings,
    TorchCalibration,
    TorchStack,
)
from convbert_edge.quantize.recipes import recipe_for
from convbert_edge.targets import Target
from convbert_edge.tasks import Task
from convbert_edge.torch_stack import model_class

SEQ = 16
TASK = Task.SEQUENCE_CLASSIFICATION
CONFIG = tiny(initializer_range=0.2)
STAGES = ("run", "calibrate", "simulate", "train_qat", "qat_run", "convert")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    return model_class(TASK)(CONFIG).save_pretrained(tmp_path_factory.mktemp("ckpt"))


def _calls(seed: int, n: int, longest: int = SEQ) -> list[dict[str, np.ndarray]]:
    return padded_calls(CONFIG, SEQ, seed, n, longest)


def _outputs(run, calls) -> np.ndarray:
    return np.concatenate([np.asarray(run(c)["logits"]) for c in calls])  # (n, labels)


def _int8(**overrides):
    return recipe_for("int8", calibration_samples=8, **overrides)


def _settings(lr: float, calls) -> QatSettings:
    return QatSettings(steps=2, accumulate=2, lr=lr, calls=calls, log=lambda _: None)


def _two_qat_runs(stack, recipe, calibration, train, held):
    """Two QAT runs of one stack (two learning rates): the second must not replace what
    the first returned. Returns both results."""
    first = stack.train_qat(recipe, calibration[0], calibration, _settings(1e-2, train))
    first_out = _outputs(stack.qat_run(first), held)
    second = stack.train_qat(recipe, calibration[0], calibration, _settings(5e-2, train))
    np.testing.assert_array_equal(first_out, _outputs(stack.qat_run(first), held))
    assert not np.array_equal(first_out, _outputs(stack.qat_run(second), held))
    return first, second


@pytest.mark.parametrize("adapter", [TorchStack, KerasStack], ids=lambda c: c.__name__)
def test_each_adapter_has_the_protocols_methods_and_signatures(adapter):
    for name in STAGES:
        declared = inspect.signature(getattr(ModelStack, name)).parameters
        actual = inspect.signature(getattr(adapter, name)).parameters
        assert [(p.name, p.kind, p.default) for p in actual.values()] == [
            (p.name, p.kind, p.default) for p in declared.values()
        ], (adapter.__name__, name)


def test_both_adapters_are_model_stacks_and_a_partial_one_is_not(checkpoint):
    for adapter in (TorchStack, KerasStack):
        assert isinstance(adapter(checkpoint, TASK), ModelStack)

    class NoQatRun:  # every stage but one: the check must be able to fail
        task = TASK
        run = calibrate = simulate = train_qat = convert = staticmethod(lambda *a: None)

    assert not isinstance(NoQatRun(), ModelStack)


def _state(stack) -> dict[str, int]:
    return {name: id(value) for name, value in vars(stack).items()}


def test_keras_stages_leave_the_stack_as_it_was_and_calibrate_anew(checkpoint):
    """A second calibration is used, not the first one served stale (KerasStack once
    kept the first calibration and quantized every later recipe from it)."""
    stack = KerasStack(checkpoint, TASK)
    before, weights = _state(stack), [np.array(w) for w in stack.model.get_weights()]
    short, long_, held = _calls(0, 8, longest=5), _calls(1, 8), _calls(2, 16)

    first = stack.calibrate(short)
    from_short = _outputs(stack.simulate(_int8(), first), held)
    second = stack.calibrate(long_)
    from_long = _outputs(stack.simulate(_int8(), second), held)
    fresh = KerasStack(checkpoint, TASK)
    np.testing.assert_array_equal(
        from_long, _outputs(fresh.simulate(_int8(), fresh.calibrate(long_)), held)
    )
    assert not np.array_equal(from_short, from_long)  # else the equality proves nothing
    # The first calibration is its own object and still gives what it gave.
    np.testing.assert_array_equal(from_short, _outputs(stack.simulate(_int8(), first), held))

    stack.convert(Target.TFLITE, _int8(), held[0], long_)
    assert _state(stack) == before
    for kept, now in zip(weights, stack.model.get_weights(), strict=True):
        np.testing.assert_array_equal(kept, now)


def test_keras_qat_models_are_handed_on_and_checked(checkpoint):
    stack = KerasStack(checkpoint, TASK)
    before = _state(stack)
    calibration, train, held = _calls(0, 8), _calls(1, 4), _calls(2, 16)
    recipe = _int8()
    first, second = _two_qat_runs(stack, recipe, calibration, train, held)
    shipped = stack.convert(Target.TFLITE, recipe, calibration[0], calibration, qat=first)
    assert shipped.model == first.converted.model != second.converted.model
    assert _state(stack) == before

    # A QAT model converted for one recipe is refused for another, not shipped as it is.
    with pytest.raises(ValueError, match="int8_scope"):
        stack.convert(
            Target.TFLITE, _int8(int8_scope="linear"), calibration[0], calibration, qat=first
        )
    # Another stage's object, or the calls calibrate takes, are refused by type.
    with pytest.raises(TypeError, match="KerasQat"):
        stack.qat_run(KerasCalibration(b""))
    with pytest.raises(TypeError, match="KerasCalibration"):
        stack.simulate(recipe, calibration)
    with pytest.raises(TypeError, match="KerasCalibration"):
        stack.simulate(recipe, TorchCalibration(()))


def test_torch_stages_leave_the_stack_as_it_was_and_are_checked(checkpoint):
    stack = TorchStack(checkpoint, TASK)
    before = _state(stack)
    weights = {k: v.clone() for k, v in stack.model.state_dict().items()}
    calibration, train, held = _calls(0, 4), _calls(1, 4), _calls(2, 8)
    recipe = _int8()

    first, _ = _two_qat_runs(stack, recipe, calibration, train, held)
    ptq = _outputs(stack.simulate(recipe, stack.calibrate(calibration)), held)
    assert not np.array_equal(ptq, _outputs(stack.qat_run(first), held))  # fp32 not trained
    assert _state(stack) == before
    assert all(torch.equal(weights[k], v) for k, v in stack.model.state_dict().items())

    with pytest.raises(ValueError, match="int8_scope"):
        stack.convert(
            Target.EXECUTORCH, _int8(int8_scope="linear"), train[0], calibration, qat=first
        )
    with pytest.raises(ValueError, match="ExecuTorch"):
        stack.convert(Target.ONNX, recipe, train[0], calibration, qat=first)
    with pytest.raises(TypeError, match="TorchCalibration"):
        stack.simulate(recipe, KerasCalibration(b""))
    with pytest.raises(TypeError, match="TorchQat"):
        stack.qat_run(stack.calibrate(calibration))
