"""What every Keras ConvBERT model shares: config handling, inputs, loading, saving and export.

A task model is a ``keras.Model`` built from a ConvBertConfig alone: all weights exist
after the constructor, so ``.keras`` files and Hugging Face checkpoints load into it
without running data through it. ``call`` takes the dict of INPUT_NAMES and returns the
dict of the task's OUTPUT_NAMES, as the PyTorch stack does.
"""

from __future__ import annotations

import os
from typing import Any

import keras
from keras import ops

from convbert_edge.config import ConvBertConfig
from convbert_edge.errors import ConfigError
from convbert_edge.keras_stack.backbone import ConvBertBackbone
from convbert_edge.keras_stack.formulation import Graph
from convbert_edge.tasks import INPUT_NAMES, Task

SERIALIZATION_PACKAGE = "convbert_edge"


def _as_config(config: ConvBertConfig | dict[str, Any]) -> ConvBertConfig:
    if isinstance(config, ConvBertConfig):
        return config
    if isinstance(config, dict):
        return ConvBertConfig.from_dict(config)
    raise ConfigError(
        f"config must be a ConvBertConfig or a config.json dict, got {type(config).__name__}"
    )


class ConvBertKerasModel(keras.Model):
    """Base of the six task models; not used directly.

    Subclasses set ``task``, create their head in ``_make_head``, build its weights in
    ``_build_head`` and map the backbone's hidden states to outputs in ``_head``.
    """

    task: Task = Task.BASE

    def __init__(self, config: ConvBertConfig | dict[str, Any], **kwargs):
        super().__init__(**kwargs)
        self.config = _as_config(config)
        self.convbert = ConvBertBackbone(self.config, name="convbert")
        self._make_head()
        self.build()

    # ------------------------------------------------------------------ subclass hooks
    def _make_head(self) -> None:
        """Create the head's layers (none for the bare model)."""

    def _build_head(self) -> None:
        """Create the head's weights."""

    def _head(self, hidden, training: bool) -> dict:
        raise NotImplementedError

    # ------------------------------------------------------------------ keras
    def build(self, input_shape=None):
        self.convbert.build()
        self._build_head()
        self.built = True

    def call(self, inputs, training=False, graph="reference") -> dict:
        """``graph``: the formulation traced (keras_stack.formulation.Graph); the
        reference unless build_for_export asks for the integer graph."""
        input_ids, attention_mask, token_type_ids = unpack_inputs(inputs)
        hidden = self.convbert(
            input_ids, attention_mask, token_type_ids, training=training, graph=graph
        )
        return self._head(hidden, training)

    def get_config(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        return cls(**config)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(
        cls, name_or_dir: str | os.PathLike, *, new_head: bool = False, **config_changes
    ):
        """A model of this class with the weights of a Hugging Face ConvBERT checkpoint.

        Args:
            name_or_dir: a directory with config.json and model.safetensors (or
                pytorch_model.bin), or a hub id. Every tensor must fit exactly: a missing,
                unused or mis-shaped one raises CheckpointError naming it.
            new_head: load only the backbone and start this class's head afresh (the
                public checkpoints have no task heads).
            **config_changes: ConvBertConfig fields to override, e.g. ``id2label``.
        """
        from convbert_edge.keras_stack.weights import load_pretrained

        return load_pretrained(cls, name_or_dir, new_head=new_head, **config_changes)

    def save_pretrained(self, directory: str | os.PathLike):
        """Write config.json and model.safetensors in transformers' PyTorch layout."""
        from convbert_edge.keras_stack.weights import save_pretrained

        return save_pretrained(self, directory)

    # ------------------------------------------------------------------ export
    def input_shape_for(self, batch_size: int, seq_len: int, num_choices: int | None = None):
        """The static shape of each input tensor: [batch, seq_len]."""
        if num_choices is not None:
            raise ConfigError(f"{type(self).__name__} takes no num_choices")
        return (batch_size, seq_len)

    def build_for_export(
        self,
        batch_size: int = 1,
        seq_len: int = 128,
        num_choices: int | None = None,
        graph: str = "reference",
    ) -> keras.Model:
        """A functional twin of this model with static int32 inputs, sharing its weights.

        TFLiteConverter.from_keras_model needs concrete shapes; the returned model's
        inputs are named INPUT_NAMES and its outputs the task's OUTPUT_NAMES. ``graph``
        "integer" traces the formulation written for integer-only int8 TFLite
        (keras_stack.formulation); "reference" the model as it is.
        """
        graph = Graph.parse(graph)
        for name, value in (("batch_size", batch_size), ("seq_len", seq_len)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if seq_len > self.config.max_position_embeddings:
            raise ConfigError(
                f"seq_len {seq_len} exceeds max_position_embeddings "
                f"({self.config.max_position_embeddings}); choose a shorter seq_len"
            )
        shape = self.input_shape_for(batch_size, seq_len, num_choices)
        inputs = [keras.Input(batch_shape=shape, dtype="int32", name=n) for n in INPUT_NAMES]
        outputs = self(dict(zip(INPUT_NAMES, inputs, strict=True)), training=False, graph=graph)
        # A list of inputs (not a dict): TFLiteConverter traces Keras 3 models with one.
        return keras.Model(inputs, outputs, name=f"{self.name}_export")


def unpack_inputs(inputs):
    """input_ids, attention_mask, token_type_ids as int32; the last two default to 1s and 0s."""
    if not isinstance(inputs, dict):
        inputs = {"input_ids": inputs}
    unknown = sorted(set(inputs) - set(INPUT_NAMES))
    if unknown or "input_ids" not in inputs:
        raise ValueError(
            f"inputs must be a dict with input_ids and optionally attention_mask and "
            f"token_type_ids; got keys {sorted(inputs)}"
        )
    input_ids = ops.cast(inputs["input_ids"], "int32")
    mask = inputs.get("attention_mask")
    types = inputs.get("token_type_ids")
    mask = ops.ones_like(input_ids) if mask is None else ops.cast(mask, "int32")
    types = ops.zeros_like(input_ids) if types is None else ops.cast(types, "int32")
    return input_ids, mask, types
