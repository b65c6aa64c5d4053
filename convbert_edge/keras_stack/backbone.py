"""The ConvBERT encoder: embeddings, optional projection to the hidden width, and the layer stack.

Shapes: b batch, l length, e embedding size, h hidden size, i intermediate size.
"""

from __future__ import annotations

import keras
from keras import ops

from convbert_edge.config import ConvBertConfig
from convbert_edge.keras_stack.attention import ConvBertAttention
from convbert_edge.keras_stack.formulation import Graph, embeddings_integer, mask_bias
from convbert_edge.keras_stack.formulation import layer_norm as normalize
from convbert_edge.keras_stack.layers import (
    ConvBertEmbeddings,
    GroupedDense,
    dense,
    get_activation,
    layer_norm,
)


def _ffn_dense(in_size: int, out_size: int, config: ConvBertConfig, name: str):
    if config.num_groups > 1:
        return GroupedDense(
            in_size, out_size, config.num_groups, config.initializer_range, name=name
        )
    return dense(out_size, name, config.initializer_range)


class ConvBertLayer(keras.layers.Layer):
    """One encoder layer: mixed attention, then the (optionally grouped) feed-forward block."""

    def __init__(self, config: ConvBertConfig, **kwargs):
        super().__init__(**kwargs)
        c = config
        self.hidden_size, self.intermediate_size = c.hidden_size, c.intermediate_size
        self.attention = ConvBertAttention(c, name="attention")
        self.intermediate = _ffn_dense(c.hidden_size, c.intermediate_size, c, "intermediate")
        self.activation = get_activation(c.hidden_act)
        self.output_dense = _ffn_dense(c.intermediate_size, c.hidden_size, c, "output")
        self.output_layer_norm = layer_norm(c.layer_norm_eps, "output_LayerNorm")
        self.dropout = keras.layers.Dropout(c.hidden_dropout_prob)

    def build(self, input_shape=None):
        self.attention.build()
        self.intermediate.build((None, None, self.hidden_size))
        self.output_dense.build((None, None, self.intermediate_size))
        self.output_layer_norm.build((None, None, self.hidden_size))
        self.built = True

    def call(self, hidden, keep, training=False, graph=Graph.REFERENCE, bias=None):
        # (b, l, h), (b, 1, 1, l) x2; bias: the integer graph's (formulation.mask_bias)
        attended = self.attention(hidden, keep, training=training, graph=graph, bias=bias)
        x = self.activation(self.intermediate(attended))  # (b, l, i)
        x = self.dropout(self.output_dense(x), training=training)  # (b, l, h)
        return normalize(self.output_layer_norm, x + attended, Graph.parse(graph))  # (b, l, h)


class ConvBertBackbone(keras.layers.Layer):
    """Token ids to contextual hidden states (the reference's ConvBertModel body).

    Call: ``(input_ids, attention_mask, token_type_ids)``, each (b, l) int32 -> (b, l, h);
    ``graph`` picks the formulation (keras_stack.formulation; the reference by default).
    """

    def __init__(self, config: ConvBertConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.embeddings = ConvBertEmbeddings(config, name="embeddings")
        self.embeddings_project = (
            dense(config.hidden_size, "embeddings_project", config.initializer_range)
            if config.embedding_size != config.hidden_size
            else None
        )
        self.encoder_layers = [
            ConvBertLayer(config, name=f"layer_{i}") for i in range(config.num_hidden_layers)
        ]

    def build(self, input_shape=None):
        self.embeddings.build()
        if self.embeddings_project is not None:
            self.embeddings_project.build((None, None, self.config.embedding_size))
        for layer in self.encoder_layers:
            layer.build()
        self.built = True

    def call(self, input_ids, attention_mask, token_type_ids, training=False,
             graph=Graph.REFERENCE):  # fmt: skip
        graph = Graph.parse(graph)
        if graph is Graph.INTEGER:
            with keras.name_scope("embeddings"):  # op names start embeddings/, as profiles read
                hidden = embeddings_integer(
                    self.embeddings, self.embeddings_project, input_ids, token_type_ids
                )  # (b, l, h)
        else:
            hidden = self.embeddings(input_ids, token_type_ids, training=training)
            if self.embeddings_project is not None:
                hidden = self.embeddings_project(hidden)  # (b, l, h)
        keep = ops.cast(attention_mask, hidden.dtype)[:, None, None, :]  # (b, 1, 1, l)
        # Made once, shared by every layer: one pair of ops for the whole model.
        bias = mask_bias(keep) if graph is Graph.INTEGER else None  # (b, 1, 1, l)
        for layer in self.encoder_layers:
            hidden = layer(hidden, keep, training=training, graph=graph, bias=bias)
        return hidden  # (b, l, h)
