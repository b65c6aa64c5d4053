"""TFConvBertForTokenClassification: one label distribution per token."""

from __future__ import annotations

import keras

from convbert_edge.keras_stack.base import SERIALIZATION_PACKAGE, ConvBertKerasModel
from convbert_edge.keras_stack.layers import dense
from convbert_edge.tasks import Task


@keras.saving.register_keras_serializable(package=SERIALIZATION_PACKAGE)
class TFConvBertForTokenClassification(ConvBertKerasModel):
    """ConvBERT with a per-token classifier: -> ``{"logits": (b, l, num_labels)}``.

    Args:
        config: a ConvBertConfig (or its config.json dict); id2label sets num_labels.

    Example:
        >>> TFConvBertForTokenClassification(cfg)({"input_ids": ids})["logits"]
    """

    task = Task.TOKEN_CLASSIFICATION

    def _make_head(self):
        rate = self.config.classifier_dropout
        rate = self.config.hidden_dropout_prob if rate is None else rate
        self.dropout = keras.layers.Dropout(rate)
        self.classifier = dense(self.config.num_labels, "classifier", self.config.initializer_range)

    def _build_head(self):
        self.classifier.build((None, None, self.config.hidden_size))

    def _head(self, hidden, training):  # (b, l, h)
        return {"logits": self.classifier(self.dropout(hidden, training=training))}
