"""Both stacks decide the same about a checkpoint's head (checkpoint.plan_load).

The fixture is a sequence-classification checkpoint; loaded as another task it has no
head for it. Both stacks must then refuse with the same message (up to the class name
each names), and with new_head=True load the same backbone and leave the same head
tensors freshly initialised.
"""

from __future__ import annotations

import numpy as np
import pytest

from convbert_edge.checkpoint import BASE_PREFIX, head_tensor_shapes, load_checkpoint
from convbert_edge.errors import CheckpointError
from convbert_edge.tasks import Task

keras_stack = pytest.importorskip("convbert_edge.keras_stack")
from convbert_edge import torch_stack  # noqa: E402
from convbert_edge.keras_stack.weights import model_tensors as keras_tensors  # noqa: E402
from convbert_edge.torch_stack.loading import model_tensors as torch_tensors  # noqa: E402

# The masked LM ties its output projection to the word embeddings, which a checkpoint
# without that head still fills in: the case where the two stacks used to disagree.
OTHER_TASKS = [
    Task.MASKED_LM,
    Task.TOKEN_CLASSIFICATION,
    Task.QUESTION_ANSWERING,
    Task.MULTIPLE_CHOICE,
]
STACKS = {"torch": torch_stack.MODEL_CLASSES, "keras": keras_stack.MODEL_CLASSES}


def refusal(model_class, directory) -> str:
    with pytest.raises(CheckpointError) as err:
        model_class.from_pretrained(directory)
    return str(err.value).replace(model_class.__name__, "<model>")


@pytest.mark.parametrize("task", OTHER_TASKS, ids=lambda t: t.value)
def test_both_stacks_refuse_a_checkpoint_without_the_head_alike(tiny_checkpoint_dir, task):
    messages = {
        name: refusal(classes[task], tiny_checkpoint_dir) for name, classes in STACKS.items()
    }
    assert messages["torch"] == messages["keras"]
    assert (
        f"has no {task.value} head: pass new_head=True to <model>.from_pretrained"
        in (messages["keras"])
    )


@pytest.mark.parametrize("task", [Task.MASKED_LM, Task.SEQUENCE_CLASSIFICATION], ids=str)
def test_new_head_loads_the_same_backbone_and_leaves_the_same_head_fresh(tiny_checkpoint_dir, task):
    checkpoint = load_checkpoint(tiny_checkpoint_dir)
    head = set(head_tensor_shapes(checkpoint.config, task))
    read = {"torch": torch_tensors, "keras": keras_tensors}
    for name, classes in STACKS.items():
        tensors = read[name](classes[task].from_pretrained(tiny_checkpoint_dir, new_head=True))
        base = {k for k in tensors if k.startswith(BASE_PREFIX)}
        assert base and set(tensors) <= base | head, name
        for k in base:
            np.testing.assert_array_equal(tensors[k], checkpoint.tensors[k], err_msg=f"{name} {k}")
        # A head the checkpoint has (sequence classification's) is not copied either
        # (biases start at zero in both the checkpoint and a fresh head).
        for k in {k for k in head & set(checkpoint.tensors) if k.endswith("weight")}:
            assert not np.array_equal(tensors[k], checkpoint.tensors[k]), f"{name} {k}"
