"""TFConvBertForSequenceClassification: one label distribution per sequence, from token 0."""

from __future__ import annotations

import keras

from convbert_edge.keras_stack.base import SERIALIZATION_PACKAGE, ConvBertKerasModel
from convbert_edge.keras_stack.heads import ClassificationHead
from convbert_edge.tasks import Task


@keras.saving.register_keras_serializable(package=SERIALIZATION_PACKAGE)
class TFConvBertForSequenceClassification(ConvBertKerasModel):
    """ConvBERT with a classification head on token 0: -> ``{"logits": (b, num_labels)}``.

    Args:
        config: a ConvBertConfig (or its config.json dict); id2label sets num_labels.

    Example:
        >>> cfg = ConvBertConfig.preset("conv-bert-small", id2label={0: "neg", 1: "pos"})
        >>> TFConvBertForSequenceClassification(cfg)({"input_ids": ids})["logits"]
    """

    task = Task.SEQUENCE_CLASSIFICATION

    def _make_head(self):
        self.classifier = ClassificationHead(self.config, name="classifier")

    def _build_head(self):
        self.classifier.build()

    def _head(self, hidden, training):
        return {"logits": self.classifier(hidden, training=training)}
