"""Hugging Face checkpoints in and out of the PyTorch stack, strictly.

The name map is declarative: every model's ``state_dict()`` names are transformers'
names for its task, exactly the list ``checkpoint.expected_tensors(config, task)``
declares with shapes. Loading is therefore normalise names -> check names and shapes
against that list (one error naming every missing, unexpected or mis-shaped tensor) ->
copy. No layout changes are needed: every tensor keeps transformers' layout.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar, Protocol, TypeVar

import numpy as np
import torch

from convbert_edge.checkpoint import (
    TIED_WEIGHTS,
    expected_tensors,
    load_checkpoint,
    match_tensors,
    plan_load,
    save_tensors,
    ties_word_embeddings,
)
from convbert_edge.config import ConvBertConfig
from convbert_edge.tasks import Task


class PreTrainedModel(Protocol):
    """What loading and saving need of a model; ConvBertPreTrainedModel is one.

    A protocol rather than that class: pretrained.py calls into this module
    (from_pretrained, save_pretrained), so importing it back would make a cycle.
    """

    task: ClassVar[Task]
    config: ConvBertConfig

    def state_dict(self) -> dict[str, torch.Tensor]: ...
    def load_state_dict(self, state: dict[str, torch.Tensor], strict: bool = True): ...
    def tie_weights(self) -> None: ...
    def eval(self): ...


M = TypeVar("M", bound=PreTrainedModel)


def model_tensors(model: PreTrainedModel) -> dict[str, np.ndarray]:
    """The model's tensors as float32 numpy arrays, under transformers' names."""
    return {k: v.detach().cpu().float().numpy() for k, v in model.state_dict().items()}


def check_layout(model: PreTrainedModel) -> None:
    """Raise unless the model's own names and shapes are the declared map (a bug here is ours)."""
    match_tensors(
        dict(model.state_dict()),
        expected_tensors(model.config, model.task),
        source=f"<{type(model).__name__} modules>",
    )


def load_pretrained(
    cls: type[M], directory: str | os.PathLike, *, new_head: bool = False, **config_changes
) -> M:
    """Build ``cls`` from a checkpoint directory; see ConvBertPreTrainedModel.from_pretrained."""
    checkpoint = load_checkpoint(directory)
    config = checkpoint.config.replace(**config_changes) if config_changes else checkpoint.config
    model = cls(config)
    check_layout(model)
    task = cls.task

    plan = plan_load(
        checkpoint.tensors, config, task, checkpoint.source,
        new_head=new_head, model_name=cls.__name__,
    )  # fmt: skip
    state = {
        k: torch.from_numpy(np.array(plan.tensors[k], dtype=np.float32)) for k in plan.expected
    }
    result = model.load_state_dict(state, strict=False)
    left_out = set(result.missing_keys) - plan.fresh
    if result.unexpected_keys or left_out:  # cannot happen after check_layout + match_tensors
        raise AssertionError(f"state_dict mismatch: {result}")
    model.tie_weights()
    return model.eval()


SAVE_DTYPES = ("float32", "float16")


def save_pretrained(
    model: PreTrainedModel, directory: str | os.PathLike, dtype: str = "float32"
) -> Path:
    """Write config.json and model.safetensors so that transformers' matching class reads them.

    ``dtype="float16"`` stores the weights in half the space (loading widens them back
    to float32); the model is then the float16-rounded one, so measure it as stored.
    """
    if dtype not in SAVE_DTYPES:
        raise ValueError(f"dtype {dtype!r}: choose one of {SAVE_DTYPES}")
    directory = Path(directory)
    config = model.config.replace(
        extra={**model.config.extra, "architectures": [type(model).__name__], "torch_dtype": dtype}
    )
    tensors = model_tensors(model)
    if dtype == "float16":
        tensors = {
            k: v.astype(np.float16) if v.dtype == np.float32 else v for k, v in tensors.items()
        }
    match_tensors(tensors, expected_tensors(config, model.task), f"<{type(model).__name__}>")
    if model.task is Task.MASKED_LM and ties_word_embeddings(config):
        for tied in TIED_WEIGHTS:  # transformers writes a shared tensor once
            tensors.pop(tied)
    config.save_pretrained(directory)
    save_tensors(tensors, directory)
    return directory
