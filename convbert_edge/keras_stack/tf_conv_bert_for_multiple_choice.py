"""TFConvBertForMultipleChoice: one score per answer choice."""

from __future__ import annotations

import keras
from keras import ops

from convbert_edge.errors import ConfigError
from convbert_edge.keras_stack.base import SERIALIZATION_PACKAGE, ConvBertKerasModel, unpack_inputs
from convbert_edge.keras_stack.heads import summarize
from convbert_edge.keras_stack.layers import dense
from convbert_edge.tasks import Task


@keras.saving.register_keras_serializable(package=SERIALIZATION_PACKAGE)
class TFConvBertForMultipleChoice(ConvBertKerasModel):
    """ConvBERT scoring c choices: inputs (b, c, l) int32 -> ``{"logits": (b, c)}``.

    The c sequences of a row are encoded as b*c independent rows, pooled by
    config.summary_type ("last" by default: the last position, padding included, as the
    reference does) and scored by a dense(h, 1).

    Args:
        config: a ConvBertConfig (or its config.json dict).

    Example:
        >>> model = TFConvBertForMultipleChoice(cfg)
        >>> model({"input_ids": ids_bcl, "attention_mask": mask_bcl})["logits"]  # (b, c)
        >>> exportable = model.build_for_export(batch_size=1, seq_len=64, num_choices=4)
    """

    task = Task.MULTIPLE_CHOICE

    def _make_head(self):
        if self.config.extra.get("summary_use_proj"):
            raise ConfigError(
                "summary_use_proj is set in config.json but ConvBERT's multiple-choice head has "
                "no summary projection in this toolkit; remove the key from config.json"
            )
        self.classifier = dense(1, "classifier", self.config.initializer_range)

    def _build_head(self):
        self.classifier.build((None, self.config.hidden_size))

    def input_shape_for(self, batch_size, seq_len, num_choices=None):
        if not isinstance(num_choices, int) or num_choices < 1:
            raise ConfigError(
                f"{type(self).__name__} needs num_choices (a positive integer) to export, "
                f"got {num_choices!r}"
            )
        return (batch_size, num_choices, seq_len)

    def call(self, inputs, training=False, graph="reference"):
        input_ids, attention_mask, token_type_ids = unpack_inputs(inputs)  # (b, c, l) each
        batch, choices, seq_len = ops.shape(input_ids)
        flat = [ops.reshape(t, (-1, seq_len)) for t in (input_ids, attention_mask, token_type_ids)]
        hidden = self.convbert(*flat, training=training, graph=graph)  # (b*c, l, h)
        scores = self.classifier(summarize(hidden, self.config.summary_type))  # (b*c, 1)
        return {"logits": ops.reshape(scores, (-1, choices))}  # (b, c)
