"""The layers the task models put on top of the backbone (reference names in comments).

Shapes: b batch, l length, h hidden, e embedding size, v vocabulary, n labels.
"""

from __future__ import annotations

import keras
from keras import ops

from convbert_edge.config import ConvBertConfig
from convbert_edge.keras_stack.layers import (
    ConvBertEmbeddings,
    dense,
    get_activation,
    layer_norm,
    normal,
)


class MaskedLMHead(keras.layers.Layer):
    """generator_predictions (dense h->e, gelu, LayerNorm) then generator_lm_head (e->v).

    With tied embeddings (config.json's tie_word_embeddings, true by default) the output
    projection is the word embedding table, as in the reference; only its bias is new.
    The reference's generator always uses exact gelu, whatever hidden_act says.
    """

    def __init__(
        self, config: ConvBertConfig, embeddings: ConvBertEmbeddings, tied: bool, **kwargs
    ):
        super().__init__(**kwargs)
        self.hidden_size, self.embedding_size = config.hidden_size, config.embedding_size
        self.vocab_size, self.tied = config.vocab_size, tied
        self.embeddings = embeddings
        self.stddev = config.initializer_range
        self.dense = dense(config.embedding_size, "dense", self.stddev)
        self.layer_norm = layer_norm(config.layer_norm_eps, "LayerNorm")
        self.activation = get_activation("gelu")

    def build(self, input_shape=None):
        self.dense.build((None, None, self.hidden_size))
        self.layer_norm.build((None, None, self.embedding_size))
        if not self.tied:
            self.lm_kernel = self.add_weight(
                name="lm_kernel",
                shape=(self.embedding_size, self.vocab_size),
                initializer=normal(self.stddev),
            )
        self.lm_bias = self.add_weight(
            name="lm_bias", shape=(self.vocab_size,), initializer="zeros"
        )
        self.built = True

    def call(self, hidden):  # (b, l, h)
        x = self.layer_norm(self.activation(self.dense(hidden)))  # (b, l, e)
        if self.tied:
            table = self.embeddings.word_embeddings.embeddings  # (v, e)
            logits = ops.matmul(x, ops.transpose(table))
        else:
            logits = ops.matmul(x, self.lm_kernel)
        return logits + self.lm_bias  # (b, l, v)


class ClassificationHead(keras.layers.Layer):
    """Token 0 -> dropout -> dense(h, h) -> hidden_act -> dropout -> out_proj(h, n)."""

    def __init__(self, config: ConvBertConfig, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = config.hidden_size
        rate = config.classifier_dropout
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob if rate is None else rate)
        self.dense = dense(config.hidden_size, "dense", config.initializer_range)
        self.activation = get_activation(config.hidden_act)
        self.out_proj = dense(config.num_labels, "out_proj", config.initializer_range)

    def build(self, input_shape=None):
        self.dense.build((None, self.hidden_size))
        self.out_proj.build((None, self.hidden_size))
        self.built = True

    def call(self, hidden, training=False):  # (b, l, h)
        x = self.dropout(hidden[:, 0, :], training=training)  # (b, h)
        x = self.activation(self.dense(x))
        return self.out_proj(self.dropout(x, training=training))  # (b, n)


def summarize(hidden, summary_type: str):
    """The reference's sequence summary without projection: (b, l, h) -> (b, h)."""
    if summary_type == "last":  # the last position, padding included
        return hidden[:, -1, :]
    if summary_type == "first":
        return hidden[:, 0, :]
    if summary_type == "mean":  # over every position, padding included
        return ops.mean(hidden, axis=1)
    raise ValueError(f"unknown summary_type {summary_type!r}; choose one of last, first, mean")
