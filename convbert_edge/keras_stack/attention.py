"""ConvBERT's mixed attention: self-attention heads beside span-based dynamic convolution heads.

Half of the hidden width is ordinary scaled dot-product attention over
``config.attention_heads`` heads; the other half is a dynamic convolution whose
per-position kernels come from the query times a separable convolution of the input.
The reference unfolds the sequence with im2col (a gather); here the per-position kernels
are laid out as a band matrix with static pads, slices and reshapes, and one matmul
mixes the neighbours, which every converter turns into builtin ops. The convolution
branch ignores the attention mask, as the reference does. Shapes: b batch, l length,
h hidden, n heads, d head size, a = n * d.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from convbert_edge.config import MASK_MARGIN, ConvBertConfig
from convbert_edge.keras_stack.formulation import (
    Graph,
    masked_scores_integer,
    mix_integer,
    scores_integer,
)
from convbert_edge.keras_stack.formulation import layer_norm as normalize
from convbert_edge.keras_stack.layers import SeparableConv1D, dense, layer_norm


def mask_scores(scores, keep):
    """Scores of masked keys moved below every real key's, by the row's own range.

    The reference adds finfo(float32).min instead. Both give masked keys no weight in
    float, but a constant that large wrecks integer quantization: int8 TFLite derives
    the scale of this sum from its range, so every real score would fall into one
    quantization step (and LiteRT's int8 ADD aborts on such a scale). A shift sized by
    the row's range keeps the sum's range at about twice the scores'. The one
    difference: a row whose keys are all masked keeps its scores (the reference makes
    it uniform); no real input has such a row, since [CLS] is always kept.

    Args:
        scores: (b, n, l, l) attention scores.
        keep: (b, 1, 1, l) float, 1 for real tokens and 0 for padding.
    """
    spread = ops.max(scores, axis=-1, keepdims=True) - ops.min(scores, axis=-1, keepdims=True)
    return scores - (1.0 - keep) * (spread + MASK_MARGIN)  # (b, n, l, l)


def band_matrix(kernels):
    """(b, l, n, k) per-position kernels -> (b, n, l, l) band matrix of the convolution.

    Row t holds kernel t on columns t - (k-1)//2 .. t + (k-1)//2 (cut at both ends, which
    is the reference's zero padding). Built by padding each row with l zeros, flattening,
    and re-cutting one column shorter, which shifts row t right by t: static slices and
    reshapes only, no gather; one matmul with the values then does the convolution.
    """
    b, seq_len, n, k = (ops.shape(kernels)[i] for i in range(4))
    half = (k - 1) // 2
    kern = ops.transpose(kernels, (0, 2, 1, 3))  # (b, n, l, k)
    skew = ops.pad(kern, ((0, 0), (0, 0), (0, 0), (0, seq_len)))  # (b, n, l, k + l)
    skew = ops.reshape(skew, (b, n, seq_len * (k + seq_len)))[:, :, : seq_len * (k + seq_len - 1)]
    skew = ops.reshape(skew, (b, n, seq_len, k + seq_len - 1))  # row t shifted right by t
    return skew[:, :, :, half : half + seq_len]  # (b, n, l, l)


class ConvBertSelfAttention(keras.layers.Layer):
    """Attention heads beside dynamic-convolution heads (reference: ConvBertSelfAttention).

    Args:
        config: the model config; uses hidden_size, attention_heads, attention_head_size,
            conv_kernel_size and attention_probs_dropout_prob.

    Call: ``(hidden (b, l, h), keep (b, 1, 1, l)) -> (b, l, h)``; with
    ``graph=Graph.INTEGER`` also ``bias`` (b, 1, 1, l), formulation.mask_bias(keep).
    """

    def __init__(self, config: ConvBertConfig, **kwargs):
        super().__init__(**kwargs)
        c = config
        self.hidden_size = c.hidden_size
        self.num_heads, self.head_size = c.attention_heads, c.attention_head_size
        self.all_head_size, self.kernel_size = c.all_head_size, c.conv_kernel_size
        a, std = self.all_head_size, c.initializer_range
        self.query, self.key = dense(a, "query", std), dense(a, "key", std)
        self.value = dense(a, "value", std)
        self.key_conv_attn_layer = SeparableConv1D(
            c.hidden_size, a, c.conv_kernel_size, std, name="key_conv_attn_layer"
        )
        self.conv_kernel_layer = dense(self.num_heads * self.kernel_size, "conv_kernel_layer", std)
        self.conv_out_layer = dense(a, "conv_out_layer", std)
        self.dropout = keras.layers.Dropout(c.attention_probs_dropout_prob)

    def build(self, input_shape=None):
        h, a = self.hidden_size, self.all_head_size
        for layer in (self.query, self.key, self.value, self.conv_out_layer):
            layer.build((None, None, h))
        self.key_conv_attn_layer.build((None, None, h))
        self.conv_kernel_layer.build((None, None, a))
        self.built = True

    def _split_heads(self, x):  # (b, l, a) -> (b, n, l, d)
        b, seq_len = ops.shape(x)[0], ops.shape(x)[1]
        x = ops.reshape(x, (b, seq_len, self.num_heads, self.head_size))
        return ops.transpose(x, (0, 2, 1, 3))

    def _attention(self, hidden, query, keep, training, bias):
        q = self._split_heads(query)  # (b, n, l, d)
        k = self._split_heads(self.key(hidden))  # (b, n, l, d)
        v = self._split_heads(self.value(hidden))  # (b, n, l, d)
        if bias is None:
            scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / math.sqrt(self.head_size)
            probs = ops.softmax(mask_scores(scores, keep), axis=-1)  # (b, n, l, l)
            context = ops.matmul(self.dropout(probs, training=training), v)  # (b, n, l, d)
        else:  # the integer graph (formulation): inference only, no dropout
            scores = scores_integer(q, k) / math.sqrt(self.head_size)  # (b, n, l, l)
            probs = ops.softmax(masked_scores_integer(scores, keep, bias), axis=-1)
            context = mix_integer(probs, v, rows_sum_to_one=True)  # (b, n, l, d)
        context = ops.transpose(context, (0, 2, 1, 3))  # (b, l, n, d)
        return ops.reshape(context, (ops.shape(hidden)[0], -1, self.all_head_size))  # (b, l, a)

    def _dynamic_conv(self, hidden, query, integer: bool):
        b, seq_len = ops.shape(hidden)[0], ops.shape(hidden)[1]
        n, k = self.num_heads, self.kernel_size
        conv_attn = self.key_conv_attn_layer(hidden) * query  # (b, l, a)
        kernels = ops.reshape(self.conv_kernel_layer(conv_attn), (b, seq_len, n, k))
        kernels = ops.softmax(kernels, axis=-1)  # (b, l, n, k)
        values = self._split_heads(self.conv_out_layer(hidden))  # (b, n, l, d)
        band = band_matrix(kernels)  # (b, n, l, l)
        if integer:  # the band's rows are cut at the ends: rows_sum_to_one=False
            out = mix_integer(band, values, rows_sum_to_one=False)  # (b, n, l, d)
        else:
            out = ops.matmul(band, values)  # (b, n, l, d)
        out = ops.transpose(out, (0, 2, 1, 3))  # (b, l, n, d)
        return ops.reshape(out, (b, seq_len, self.all_head_size))  # (b, l, a)

    def call(self, hidden, keep, training=False, graph=Graph.REFERENCE, bias=None):
        # (b, l, h), (b, 1, 1, l) x2
        if (Graph.parse(graph) is Graph.INTEGER) != (bias is not None):
            raise ValueError("the integer graph needs the mask bias, the reference graph none")
        query = self.query(hidden)  # (b, l, a)
        context = self._attention(hidden, query, keep, training, bias)  # (b, l, a)
        conv = self._dynamic_conv(hidden, query, bias is not None)  # (b, l, a)
        return ops.concatenate([context, conv], axis=-1)  # (b, l, 2a = h)


class ConvBertAttention(keras.layers.Layer):
    """Mixed attention, output projection, dropout, residual and LayerNorm."""

    def __init__(self, config: ConvBertConfig, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = config.hidden_size
        self.self_attention = ConvBertSelfAttention(config, name="self")
        self.dense = dense(config.hidden_size, "dense", config.initializer_range)
        self.layer_norm = layer_norm(config.layer_norm_eps, "LayerNorm")
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob)

    def build(self, input_shape=None):
        self.self_attention.build()
        self.dense.build((None, None, self.hidden_size))
        self.layer_norm.build((None, None, self.hidden_size))
        self.built = True

    def call(self, hidden, keep, training=False, graph=Graph.REFERENCE, bias=None):
        # (b, l, h), (b, 1, 1, l) x2
        x = self.self_attention(hidden, keep, training=training, graph=graph, bias=bias)
        x = self.dropout(self.dense(x), training=training) + hidden
        return normalize(self.layer_norm, x, Graph.parse(graph))  # (b, l, h)
