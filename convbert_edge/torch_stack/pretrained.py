"""What every PyTorch ConvBERT model shares: config, init, loading, saving, example inputs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from convbert_edge.config import ConvBertConfig
from convbert_edge.tasks import OUTPUT_NAMES, Task
from convbert_edge.torch_stack.attention import SeparableConv1D
from convbert_edge.torch_stack.feed_forward import GroupedLinear


class ConvBertPreTrainedModel(nn.Module):
    """Base of ConvBertModel and the five heads.

    A subclass sets ``task``, builds its modules so that ``state_dict()`` names equal
    transformers' names for that task (``checkpoint.expected_tensors``), and calls
    ``post_init()`` at the end of ``__init__``. ``forward(input_ids, attention_mask,
    token_type_ids)`` returns a dict keyed by ``tasks.OUTPUT_NAMES[task]``.
    """

    task: ClassVar[Task]

    def __init__(self, config: ConvBertConfig):
        super().__init__()
        config.validate()
        self.config = config

    # ------------------------------------------------------------------ initialisation
    def post_init(self) -> None:
        """Initialise every weight as transformers does, then tie shared weights."""
        self.apply(self._init_module)
        self.tie_weights()

    def _init_module(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, nn.Conv1d)):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, SeparableConv1D):
            nn.init.zeros_(module.bias)
        elif isinstance(module, GroupedLinear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            nn.init.zeros_(module.bias)

    def tie_weights(self) -> None:
        """Share weights that transformers shares (only the masked-LM head has any)."""

    # ------------------------------------------------------------------ interface
    @property
    def output_names(self) -> tuple[str, ...]:
        return OUTPUT_NAMES[self.task]

    def example_inputs(self, batch: int = 1, seq_len: int = 128) -> tuple[torch.Tensor, ...]:
        """(input_ids, attention_mask, token_type_ids) of the static shape to export with."""
        return example_inputs((batch, seq_len), self.config.vocab_size)

    @classmethod
    def from_pretrained(
        cls, directory: str | os.PathLike, *, new_head: bool = False, **config_changes
    ) -> ConvBertPreTrainedModel:
        """Load a Hugging Face checkpoint directory (or hub id), strictly, in eval mode.

        Args:
            directory: holds config.json and model.safetensors (or pytorch_model.bin).
            new_head: initialise this class's head afresh (as transformers does before
                fine-tuning) instead of requiring its tensors; any head tensors in the
                checkpoint are then ignored.
            **config_changes: ConvBertConfig fields to override, e.g. ``id2label`` for a
                new classification head.
        """
        from convbert_edge.torch_stack.loading import load_pretrained

        return load_pretrained(cls, directory, new_head=new_head, **config_changes)

    def save_pretrained(self, directory: str | os.PathLike, dtype: str = "float32") -> Path:
        """Write config.json and model.safetensors as transformers lays them out.

        ``dtype`` is "float32" or "float16" (half the size; read back as float32).
        """
        from convbert_edge.torch_stack.loading import save_pretrained

        return save_pretrained(self, directory, dtype)


def example_inputs(shape: tuple[int, ...], vocab_size: int) -> tuple[torch.Tensor, ...]:
    """Deterministic int64 inputs: ids cycling through the vocabulary, no padding, segment 0."""
    count = 1
    for n in shape:
        count *= n
    input_ids = (torch.arange(count, dtype=torch.long) * 7 + 101) % vocab_size
    return (
        input_ids.reshape(shape),
        torch.ones(shape, dtype=torch.long),
        torch.zeros(shape, dtype=torch.long),
    )


def token_at(hidden: torch.Tensor, index: int) -> torch.Tensor:
    """(b, s, h) -> (b, h): the hidden state of position ``index`` (0 or -1).

    ``hidden[:, index]`` exports as aten.select, which executorch 1.5.1's XNNPACK
    partitioner does not take, so the head would run in a second delegate; a one-wide
    slice and a reshape lower into the encoder's delegate.
    """
    b, s, h = hidden.shape
    start = index % s
    return hidden[:, start : start + 1].reshape(b, h)  # (b, h)
