"""ConvBERT's mixed attention: self-attention heads beside span-based dynamic convolution heads.

Half of the hidden width is ordinary scaled dot-product attention over
``config.attention_heads`` heads; the other half is a dynamic convolution whose
per-position kernels come from the query times a separable convolution of the input.
The reference unfolds the sequence with im2col (a gather); here the k neighbours are k
static slices of the zero-padded sequence, mixed by multiply-adds, which every converter
turns into builtin ops. The convolution branch ignores the attention mask, as the
reference does. Shapes: b batch, l length, h hidden, n heads, d head size, a = n * d.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from convbert_edge.config import ConvBertConfig
from convbert_edge.keras_stack.layers import SeparableConv1D, dense, layer_norm

# Added to the scores of masked keys: PyTorch's finfo(float32).min, so that even a row
# with no real token normalizes exactly as the PyTorch reference does.
MASK_VALUE = float(np.finfo(np.float32).min)


class ConvBertSelfAttention(keras.layers.Layer):
    """Attention heads beside dynamic-convolution heads (reference: ConvBertSelfAttention).

    Args:
        config: the model config; uses hidden_size, attention_heads, attention_head_size,
            conv_kernel_size and attention_probs_dropout_prob.

    Call: ``(hidden (b, l, h), mask_bias (b, 1, 1, l)) -> (b, l, h)``.
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

    def _attention(self, hidden, query, mask_bias, training):
        q = self._split_heads(query)  # (b, n, l, d)
        k = self._split_heads(self.key(hidden))  # (b, n, l, d)
        v = self._split_heads(self.value(hidden))  # (b, n, l, d)
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / math.sqrt(self.head_size)
        probs = ops.softmax(scores + mask_bias, axis=-1)  # (b, n, l, l)
        context = ops.matmul(self.dropout(probs, training=training), v)  # (b, n, l, d)
        context = ops.transpose(context, (0, 2, 1, 3))  # (b, l, n, d)
        return ops.reshape(context, (ops.shape(hidden)[0], -1, self.all_head_size))  # (b, l, a)

    def _dynamic_conv(self, hidden, query):
        b, seq_len = ops.shape(hidden)[0], ops.shape(hidden)[1]
        n, d, k = self.num_heads, self.head_size, self.kernel_size
        conv_attn = self.key_conv_attn_layer(hidden) * query  # (b, l, a)
        kernels = ops.reshape(self.conv_kernel_layer(conv_attn), (b, seq_len, n, k))
        kernels = ops.softmax(kernels, axis=-1)  # (b, l, n, k)
        values = self.conv_out_layer(hidden)  # (b, l, a)
        half = (k - 1) // 2
        values = ops.pad(values, ((0, 0), (half, half), (0, 0)))  # (b, l + k - 1, a)
        values = ops.reshape(values, (b, -1, n, d))  # (b, l + k - 1, n, d)
        out = None
        for j in range(k):  # neighbour j sits at offset j - half
            term = values[:, j:j + seq_len] * kernels[..., j:j + 1]  # (b, l, n, d)
            out = term if out is None else out + term
        return ops.reshape(out, (b, seq_len, self.all_head_size))  # (b, l, a)

    def call(self, hidden, mask_bias, training=False):  # (b, l, h), (b, 1, 1, l)
        query = self.query(hidden)  # (b, l, a)
        context = self._attention(hidden, query, mask_bias, training)  # (b, l, a)
        conv = self._dynamic_conv(hidden, query)  # (b, l, a)
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

    def call(self, hidden, mask_bias, training=False):  # (b, l, h)
        x = self.dense(self.self_attention(hidden, mask_bias, training=training))
        return self.layer_norm(self.dropout(x, training=training) + hidden)  # (b, l, h)
