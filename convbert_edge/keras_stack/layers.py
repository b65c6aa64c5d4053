"""Building blocks of the Keras stack: activations, grouped dense, separable conv, embeddings.

Every layer creates its weights in ``build`` from sizes it already knows, so a model is
fully built at construction (``.keras`` loading and weight conversion need no data).
Shapes: b = batch, l = sequence length, e = embedding size, h = hidden size.
"""

from __future__ import annotations

import keras
from keras import ops

from convbert_edge.config import SUPPORTED_ACTIVATIONS, ConvBertConfig


def _gelu(x):
    return keras.activations.gelu(x, approximate=False)


def _gelu_tanh(x):
    return keras.activations.gelu(x, approximate=True)


# transformers' ACT2FN keys -> the Keras function with the same numerics.
ACTIVATIONS = {
    "gelu": _gelu,
    "gelu_new": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "relu": keras.activations.relu,
    "silu": keras.activations.silu,
    "swish": keras.activations.silu,
    "tanh": keras.activations.tanh,
}
assert set(ACTIVATIONS) == set(SUPPORTED_ACTIVATIONS), "config and Keras stack disagree"


def get_activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def normal(stddev: float) -> keras.initializers.Initializer:
    """The reference's init for dense, conv and embedding weights: N(0, initializer_range)."""
    return keras.initializers.RandomNormal(stddev=stddev)


def dense(units: int, name: str, stddev: float) -> keras.layers.Dense:
    return keras.layers.Dense(units, name=name, kernel_initializer=normal(stddev))


def layer_norm(eps: float, name: str) -> keras.layers.LayerNormalization:
    return keras.layers.LayerNormalization(epsilon=eps, name=name)


class GroupedDense(keras.layers.Layer):
    """A dense layer whose input and output split into ``groups`` independent blocks.

    The kernel has the reference's layout [groups, in/groups, out/groups]. Each group is a
    static slice and a plain matmul, so converters see ordinary fully-connected ops.

    Args:
        input_size, output_size: total widths; both divisible by ``groups``.
        groups: number of blocks.
        stddev: of the kernel's normal initialisation.
    """

    def __init__(self, input_size: int, output_size: int, groups: int, stddev: float, **kwargs):
        super().__init__(**kwargs)
        self.stddev = stddev
        self.input_size, self.output_size, self.groups = input_size, output_size, groups
        self.group_in, self.group_out = input_size // groups, output_size // groups

    def build(self, input_shape=None):
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.groups, self.group_in, self.group_out),
            initializer=normal(self.stddev),
        )
        self.bias = self.add_weight(name="bias", shape=(self.output_size,), initializer="zeros")
        self.built = True

    def call(self, x):  # (b, l, in)
        outs = [
            ops.matmul(x[..., g * self.group_in : (g + 1) * self.group_in], self.kernel[g])
            for g in range(self.groups)
        ]  # groups x (b, l, out/groups)
        return ops.concatenate(outs, axis=-1) + self.bias  # (b, l, out)


class SeparableConv1D(keras.layers.Layer):
    """Depthwise conv over the sequence, then a pointwise projection, then a bias.

    Same-length output (zero padding (k-1)/2 each side), as the reference's SeparableConv1D.

    Args:
        channels: input width (h); out_channels: output width; kernel_size: odd k;
        stddev: of the kernels' normal initialisation.
    """

    def __init__(self, channels: int, out_channels: int, kernel_size: int, stddev: float, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.out_channels, self.kernel_size = channels, out_channels, kernel_size
        self.depthwise = keras.layers.DepthwiseConv1D(
            kernel_size,
            padding="same",
            use_bias=False,
            name="depthwise",
            depthwise_initializer=normal(stddev),
        )
        self.pointwise = keras.layers.Dense(
            out_channels, use_bias=False, name="pointwise", kernel_initializer=normal(stddev)
        )

    def build(self, input_shape=None):
        self.depthwise.build((None, None, self.channels))
        self.pointwise.build((None, None, self.channels))
        self.bias = self.add_weight(name="bias", shape=(self.out_channels,), initializer="zeros")
        self.built = True

    def call(self, x):  # (b, l, h)
        return self.pointwise(self.depthwise(x)) + self.bias  # (b, l, out)


class ConvBertEmbeddings(keras.layers.Layer):
    """Word + position + token-type embeddings, LayerNorm, dropout.

    Positions are 0..l-1, a static slice of the position table (no gather).
    """

    def __init__(self, config: ConvBertConfig, **kwargs):
        super().__init__(**kwargs)
        c = config

        def table(rows: int, name: str) -> keras.layers.Embedding:
            init = normal(c.initializer_range)
            return keras.layers.Embedding(
                rows, c.embedding_size, embeddings_initializer=init, name=name
            )

        self.word_embeddings = table(c.vocab_size, "word_embeddings")
        self.position_embeddings = table(c.max_position_embeddings, "position_embeddings")
        self.token_type_embeddings = table(c.type_vocab_size, "token_type_embeddings")
        self.layer_norm = layer_norm(c.layer_norm_eps, "LayerNorm")
        self.dropout = keras.layers.Dropout(c.hidden_dropout_prob)
        self.embedding_size = c.embedding_size

    def build(self, input_shape=None):
        for table in (self.word_embeddings, self.position_embeddings, self.token_type_embeddings):
            table.build(None)
        self.layer_norm.build((None, None, self.embedding_size))
        self.built = True

    def call(self, input_ids, token_type_ids, training=False):
        # (b, l) int32 each; the integer graph's block is formulation.embeddings_integer
        seq_len = ops.shape(input_ids)[1]
        positions = self.position_embeddings.embeddings[:seq_len]  # (l, e)
        types = self.token_type_embeddings(token_type_ids)  # (b, l, e)
        x = self.word_embeddings(input_ids) + positions + types  # (b, l, e)
        return self.dropout(self.layer_norm(x), training=training)  # (b, l, e)
