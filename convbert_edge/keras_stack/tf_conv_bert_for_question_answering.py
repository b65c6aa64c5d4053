"""TFConvBertForQuestionAnswering: start and end logits of an extractive answer span."""

from __future__ import annotations

import keras

from convbert_edge.keras_stack.base import SERIALIZATION_PACKAGE, ConvBertKerasModel
from convbert_edge.keras_stack.layers import dense
from convbert_edge.tasks import Task


@keras.saving.register_keras_serializable(package=SERIALIZATION_PACKAGE)
class TFConvBertForQuestionAnswering(ConvBertKerasModel):
    """ConvBERT with a span head: -> ``{"start_logits": (b, l), "end_logits": (b, l)}``.

    Args:
        config: a ConvBertConfig (or its config.json dict).

    Example:
        >>> out = TFConvBertForQuestionAnswering(cfg)({"input_ids": ids})
        >>> out["start_logits"], out["end_logits"]
    """

    task = Task.QUESTION_ANSWERING

    def _make_head(self):
        self.qa_outputs = dense(2, "qa_outputs", self.config.initializer_range)

    def _build_head(self):
        self.qa_outputs.build((None, None, self.config.hidden_size))

    def _head(self, hidden, training):  # (b, l, h)
        logits = self.qa_outputs(hidden)  # (b, l, 2)
        return {"start_logits": logits[..., 0], "end_logits": logits[..., 1]}  # (b, l) each
