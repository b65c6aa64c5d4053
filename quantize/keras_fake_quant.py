"""A fake-quantized twin of a Keras ConvBERT model: what full-int8 TFLite does, in float.

The student for quantization-aware training. It is a second instance of the model's
class with the same weights in which each layer whose arithmetic the full-int8 converter
runs in int8 is replaced by a stand-in that rounds like the converter does:

- Dense, grouped dense and depthwise-conv kernels: symmetric int8, one scale per output
  channel (TFLite's per-channel FULLY_CONNECTED / DEPTHWISE_CONV_2D weights); embedding
  tables: symmetric int8, one scale per table (TFLite's GATHER constants; assumed,
  and it made the twin's error correlate with the artifact's, see below);
- activations, per-tensor asymmetric int8 over the running min/max: the inputs and
  outputs of the dense layers and of every LayerNorm, the inputs of the depthwise conv,
  the attention scores before and after masking, and the inputs of the
  activation-by-activation BATCH_MATMULs of attention (q·kᵀ, probs·v) and of the
  dynamic convolution (band matrix · values).

Rounding uses straight-through estimators, so gradients reach the float weights. The
stand-ins hold the original layers and read their variables: the twin's ``weights`` list
is unchanged and ``model.set_weights(twin.get_weights())`` carries training back.
Not simulated, though int8 in the artifact: the arithmetic inside LayerNorm and the
mask, the int8 softmax and GELU tables, and the tied masked-LM projection's per-channel
rounding. Measured on a trained 4-layer conv-bert-small at seq 128 (the logit margin
on 300 test texts): the twin's error is about half the int8 TFLite model's (RMS 0.049
vs 0.094) with correlation 0.3; without the embedding and score rounding it was a
third, uncorrelated (0.05).
Shapes: b batch, l length, n heads, d head size.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import ops

from convbert_edge.keras_stack.attention import ConvBertSelfAttention, band_matrix, mask_scores
from convbert_edge.keras_stack.base import ConvBertKerasModel
from convbert_edge.keras_stack.formulation import Graph
from convbert_edge.keras_stack.layers import GroupedDense


def fake_quant_weight(w, channel_axes: tuple[int, ...], bits: int = 8):
    """Symmetric per-channel rounding of a kernel, as TFLite quantizes int8 weights.

    One scale per index of ``channel_axes`` (the output channels): max|w| / 127, values
    rounded to [-127, 127]. Straight-through: the gradient is the identity.
    """
    levels = 2 ** (bits - 1) - 1
    reduce = tuple(a for a in range(len(w.shape)) if a not in channel_axes)
    scale = ops.maximum(ops.max(ops.abs(w), axis=reduce, keepdims=True) / levels, 1e-12)
    q = ops.clip(ops.round(w / scale), -levels, levels) * scale
    return w + ops.stop_gradient(q - w)


class ActivationRange:
    """One activation tensor's int8 range and its fake quantization.

    The range is the running min and max of every value seen (the first call sets it),
    which is what TFLite's calibration measures; it always holds 0. A moving average of
    per-call extremes was measured and rejected: with one text per call it clips the
    tails the converter keeps, and the student trained for a different model.
    Values are rounded to the 2**bits levels of the range; the gradient passes inside
    the range and is zero outside it (straight-through).

    Args:
        name: for messages and reports.
        bits: 8 for int8; 16 makes the rounding negligible (tests use it).
    """

    def __init__(self, name: str, bits: int = 8):
        self.name, self.bits = name, bits
        self.min = tf.Variable(0.0, trainable=False, name=f"{name}_min")
        self.max = tf.Variable(0.0, trainable=False, name=f"{name}_max")

    def __call__(self, x):
        self.min.assign(tf.minimum(self.min, tf.stop_gradient(tf.reduce_min(x))))
        self.max.assign(tf.maximum(self.max, tf.stop_gradient(tf.reduce_max(x))))
        return tf.quantization.fake_quant_with_min_max_vars(
            x, self.min, self.max, num_bits=self.bits
        )


class FakeQuantDense:
    """Stands in for a keras Dense: fake-quantized input, per-channel kernel and output.

    The output is rounded too: TFLite's int8 FULLY_CONNECTED writes int8.

    Args:
        layer: the Dense whose variables it reads.
        name: prefix of its ranges' names.
        bits: as ActivationRange's.
    """

    def __init__(self, layer: keras.layers.Dense, name: str, bits: int):
        self.layer, self.bits = layer, bits
        self.input_range = ActivationRange(name, bits)
        self.output_range = ActivationRange(f"{name}_out", bits)
        self.ranges = [self.input_range, self.output_range]

    def __call__(self, x):  # (..., in)
        kernel = fake_quant_weight(self.layer.kernel, (1,), self.bits)  # (in, out)
        y = ops.matmul(self.input_range(x), kernel)
        if self.layer.use_bias:
            y = y + self.layer.bias
        return self.output_range(self.layer.activation(y))  # (..., out)


class FakeQuantGroupedDense:
    """Stands in for a GroupedDense: each group's matmul is its own int8 FULLY_CONNECTED."""

    def __init__(self, layer: GroupedDense, name: str, bits: int):
        self.layer, self.bits = layer, bits
        self.input_ranges = [ActivationRange(f"{name}_{g}", bits) for g in range(layer.groups)]
        self.output_range = ActivationRange(f"{name}_out", bits)
        self.ranges = [*self.input_ranges, self.output_range]

    def __call__(self, x):  # (b, l, in)
        lay = self.layer
        kernel = fake_quant_weight(lay.kernel, (0, 2), self.bits)  # (groups, in/g, out/g)
        outs = [
            ops.matmul(rng(x[..., g * lay.group_in : (g + 1) * lay.group_in]), kernel[g])
            for g, rng in enumerate(self.input_ranges)
        ]  # groups x (b, l, out/groups)
        return self.output_range(ops.concatenate(outs, axis=-1) + lay.bias)  # (b, l, out)


class FakeQuantDepthwiseConv1D:
    """Stands in for a keras DepthwiseConv1D: per-channel kernel, fake-quantized input."""

    def __init__(self, layer: keras.layers.DepthwiseConv1D, name: str, bits: int):
        self.layer, self.bits = layer, bits
        self.input_range = ActivationRange(name, bits)
        self.ranges = [self.input_range]

    def __call__(self, x):  # (b, l, h)
        lay = self.layer
        kernel = fake_quant_weight(lay.kernel, (1, 2), self.bits)  # (k, h, multiplier)
        y = ops.depthwise_conv(
            self.input_range(x),
            kernel,
            lay.strides,
            lay.padding,
            lay.data_format,
            lay.dilation_rate,
        )
        return y + lay.bias if lay.use_bias else y  # (b, l, h * multiplier)


class FakeQuantEmbedding:
    """Stands in for a keras Embedding: the table rounded per tensor, as TFLite stores it."""

    def __init__(self, layer: keras.layers.Embedding, name: str, bits: int):
        self.layer, self.bits, self.ranges = layer, bits, []

    @property
    def embeddings(self):  # (rows, e)
        return fake_quant_weight(self.layer.embeddings, (), self.bits)

    def __call__(self, ids):  # (b, l) int
        return ops.take(self.embeddings, ids, axis=0)  # (b, l, e)


class FakeQuantLayerNorm:
    """Stands in for a keras LayerNormalization: its input and output fake-quantized.

    TFLite computes LayerNorm as int8 mean, variance, rsqrt and scale ops. Simulating
    each of them was tried and measured: it added little of the artifact's error on the
    real model, so only the two ends are rounded, where the residual sums (wide ranges)
    enter and the normalised values leave.
    """

    def __init__(self, layer: keras.layers.LayerNormalization, name: str, bits: int):
        self.layer = layer
        self.input_range = ActivationRange(name, bits)
        self.output_range = ActivationRange(f"{name}_out", bits)
        self.ranges = [self.input_range, self.output_range]

    def __call__(self, x):  # (..., h)
        return self.output_range(self.layer(self.input_range(x)))  # (..., h)


class FakeQuantSelfAttention:
    """Stands in for ConvBertSelfAttention, with its three activation matmuls fake-quantized.

    The same arithmetic as ConvBertSelfAttention._attention and ._dynamic_conv (the test
    at 16 bits holds the two together); the projections are the layer's own, already
    replaced by FakeQuantDense.
    """

    def __init__(self, layer: ConvBertSelfAttention, name: str, bits: int):
        self.layer = layer
        self.by_input = {
            part: ActivationRange(f"{name}_{part}", bits)
            for part in ("q", "k", "scores", "masked", "probs", "v", "band", "conv_v")
        }
        self.ranges = list(self.by_input.values())

    def __call__(self, hidden, keep, training=False, graph="reference", bias=None):
        # (b, l, h), (b, 1, 1, l)
        if Graph.parse(graph) is not Graph.REFERENCE:
            raise ValueError("QAT trains the reference graph; trace the integer one after it")
        lay, r = self.layer, self.by_input
        query = lay.query(hidden)  # (b, l, a)
        q = lay._split_heads(query)  # (b, n, l, d)
        k = lay._split_heads(lay.key(hidden))  # (b, n, l, d)
        v = lay._split_heads(lay.value(hidden))  # (b, n, l, d)
        scores = ops.matmul(r["q"](q), ops.transpose(r["k"](k), (0, 1, 3, 2)))
        scores = r["scores"](scores / math.sqrt(lay.head_size))  # (b, n, l, l)
        probs = ops.softmax(r["masked"](mask_scores(scores, keep)), axis=-1)
        context = ops.matmul(r["probs"](probs), r["v"](v))  # (b, n, l, d)
        context = ops.transpose(context, (0, 2, 1, 3))  # (b, l, n, d)
        b, seq_len = ops.shape(hidden)[0], ops.shape(hidden)[1]
        context = ops.reshape(context, (b, seq_len, lay.all_head_size))  # (b, l, a)

        conv_attn = lay.key_conv_attn_layer(hidden) * query  # (b, l, a)
        kernels = ops.reshape(
            lay.conv_kernel_layer(conv_attn), (b, seq_len, lay.num_heads, lay.kernel_size)
        )
        kernels = ops.softmax(kernels, axis=-1)  # (b, l, n, k)
        values = lay._split_heads(lay.conv_out_layer(hidden))  # (b, n, l, d)
        conv = ops.matmul(r["band"](band_matrix(kernels)), r["conv_v"](values))  # (b, n, l, d)
        conv = ops.reshape(ops.transpose(conv, (0, 2, 1, 3)), (b, seq_len, lay.all_head_size))
        return ops.concatenate([context, conv], axis=-1)  # (b, l, 2a = h)


# Layer class -> its stand-in; exact classes, so a new subclass is not silently mistreated.
STAND_INS = {
    keras.layers.Dense: FakeQuantDense,
    GroupedDense: FakeQuantGroupedDense,
    keras.layers.DepthwiseConv1D: FakeQuantDepthwiseConv1D,
    ConvBertSelfAttention: FakeQuantSelfAttention,
    keras.layers.LayerNormalization: FakeQuantLayerNorm,
    keras.layers.Embedding: FakeQuantEmbedding,
}


def fake_quant_twin(
    model: ConvBertKerasModel, bits: int = 8
) -> tuple[ConvBertKerasModel, list[ActivationRange]]:
    """A new model of ``model``'s class and weights with the int8 ops replaced by stand-ins.

    Returns the twin and every activation range in it. The twin's ``weights`` are its own
    (a copy), in ``model.weights``' order; call it as the model, with ``training=False``.

    Example:
        >>> student, ranges = fake_quant_twin(model)
        >>> student(call, training=False)["logits"]  # what int8 TFLite roughly computes
    """
    twin = type(model)(model.config)
    twin.set_weights(model.get_weights())
    ranges: list[ActivationRange] = []

    def replace_children(layer: keras.layers.Layer, path: str) -> None:
        for attr, child in list(vars(layer).items()):
            if attr.startswith("_"):
                continue
            if isinstance(child, keras.layers.Layer):
                replace_children(child, f"{path}/{child.name}")  # children first
                stand_in = STAND_INS.get(type(child))
                if stand_in is not None:
                    # A plain object, so the twin's tracked layers and weights stay as they are.
                    new = stand_in(child, f"{path}/{child.name}", bits)
                    setattr(layer, attr, new)
                    ranges.extend(new.ranges)
            elif isinstance(child, list | tuple):
                for item in child:
                    if isinstance(item, keras.layers.Layer):
                        replace_children(item, f"{path}/{item.name}")

    replace_children(twin, twin.name)
    return twin, ranges
