"""TFConvBertForMaskedLM: the generator head, outputting vocabulary logits."""

from __future__ import annotations

import keras

from convbert_edge.checkpoint import ties_word_embeddings
from convbert_edge.keras_stack.base import SERIALIZATION_PACKAGE, ConvBertKerasModel
from convbert_edge.keras_stack.heads import MaskedLMHead
from convbert_edge.tasks import Task


@keras.saving.register_keras_serializable(package=SERIALIZATION_PACKAGE)
class TFConvBertForMaskedLM(ConvBertKerasModel):
    """ConvBERT with the masked-LM generator head: -> ``{"logits": (b, l, vocab_size)}``.

    The output projection shares the word embeddings unless config.json sets
    tie_word_embeddings to false.

    Args:
        config: a ConvBertConfig (or its config.json dict).

    Example:
        >>> model = TFConvBertForMaskedLM(ConvBertConfig.preset("conv-bert-small"))
        >>> model({"input_ids": ids})["logits"].shape  # (b, l, 30522)
    """

    task = Task.MASKED_LM

    def _make_head(self):
        self.lm_head = MaskedLMHead(
            self.config, self.convbert.embeddings, ties_word_embeddings(self.config), name="lm_head"
        )

    def _build_head(self):
        self.lm_head.build()

    def _head(self, hidden, training):
        return {"logits": self.lm_head(hidden)}
