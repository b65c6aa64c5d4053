"""TFConvBertModel: the bare encoder, outputting last_hidden_state."""

from __future__ import annotations

import keras

from convbert_edge.keras_stack.base import SERIALIZATION_PACKAGE, ConvBertKerasModel
from convbert_edge.tasks import Task


@keras.saving.register_keras_serializable(package=SERIALIZATION_PACKAGE)
class TFConvBertModel(ConvBertKerasModel):
    """ConvBERT encoder on Keras 3: ``{input_ids, attention_mask, token_type_ids}`` (b, l) int32
    -> ``{"last_hidden_state": (b, l, hidden_size)}``.

    Args:
        config: a ConvBertConfig (or its config.json dict).

    Example:
        >>> model = TFConvBertModel.from_pretrained("path/to/conv-bert-small")
        >>> model({"input_ids": ids, "attention_mask": mask})["last_hidden_state"]
    """

    task = Task.BASE

    def _head(self, hidden, training):
        return {"last_hidden_state": hidden}
