"""Two ways to write the same model: the reference graph, and the integer graph for int8 export.

The reference graph (``Graph.REFERENCE``) is the fp32 model the tests compare with
transformers; loading, training and every float or linear-scope export use it. The
integer graph (``Graph.INTEGER``) is traced only for the integer-only TFLite model
(``int8_scope="all"``): the same weights and, in fp32, the same function up to float
rounding and the attention-mask margin below, written with ops that LiteRT's XNNPACK
delegate runs in int8. What XNNPACK refuses in int8 (litert tflite/delegates/xnnpack/
xnnpack_delegate.cc) falls back to TFLite's own single-threaded kernels and cuts the
delegated graph into partitions; docs/int8_ops.md has the measured op table.

- Activation matmuls: XNNPACK's int8 BATCH_MATMUL needs a right-hand side with zero
  point 0, which a calibrated activation does not have; TFLite's own int8 matmul ran
  them at over half of the model's time. ``zero_point_free`` shifts the operand so that
  its zero point comes out 0, and the matmul makes up for the shift exactly.
- LayerNorm: Keras' LayerNormalization converts to a SQUARED_DIFFERENCE (float-only in
  XNNPACK, and slow in TFLite's int8 kernel) beside the means; here the centred input is
  squared with a MUL, so only the per-row ``+ epsilon`` and RSQRT ((b, l, 1)) stay
  outside XNNPACK.
- Embeddings (``embeddings_integer``): every rounding of the embedding block is at a
  grid the first LayerNorm then divides by a token's small spread, so the block is
  written with as few as it can: one ADD of two lookups (``position_and_type``), tables
  whose rows are centred already (no MEAN and SUB), and LayerNorm's gamma and beta folded
  into the projection that follows (no MUL and ADD).
- Attention mask: the reference shifts masked scores by the row's own range (two
  reductions, and a sum whose int8 range is the scores' stretched by their spread and
  the margin). Here masked scores are set to ``-MASK_MARGIN`` (a MUL by the 0/1 mask and
  an ADD of a bias made once per model).

Softmax, GELU and RSQRT have no int8 kernel in XNNPACK and stay outside it.

Shapes: b batch, l length, n heads, h hidden.
"""

from __future__ import annotations

from keras import ops

from convbert_edge.config import MASK_MARGIN
from convbert_edge.targets import ParsableEnum


class Graph(ParsableEnum):
    """Which formulation a Keras ConvBERT model is traced with (see the module doc);
    ``Graph.parse`` names the valid ones when given another."""

    REFERENCE = "reference"
    INTEGER = "integer"


def mask_bias(keep):
    """(b, 1, 1, l) 0/1 mask -> (b, 1, 1, l) bias: 0 for real keys, -MASK_MARGIN for padding."""
    return (keep - 1.0) * MASK_MARGIN


def masked_scores_integer(scores, keep, bias):
    """Scores with every masked key set to ``-MASK_MARGIN``, without reductions.

    In float, a masked key then weighs exp(-MASK_MARGIN - row max) against the row's
    largest score: below 1e-13 for any row whose largest score is at least 0, and only
    rows made entirely of strongly negative scores would notice. In int8 the sum's range
    is the scores' range stretched to -MASK_MARGIN, where the reference's row shift
    stretches it by the row's spread on top.

    Args:
        scores: (b, n, l, l); keep: (b, 1, 1, l) 0/1; bias: ``mask_bias(keep)``.
    """
    return scores * keep + bias  # (b, n, l, l)


def position_and_type(positions, types, token_type_ids):
    """positions + types[token_type_ids] as one lookup in their (l * t, e) sum table.

    In int8 every ADD rounds its output to the sum's grid, which the word table's range
    sets: the coarsest grid the first LayerNorm sees. Word + position + type as two ADDs
    rounds the embedding sum twice; with the table of every (position, type) pair,
    which the converter folds to one int8 constant, the sum is one ADD of two lookups.
    On the default model that halved the integer-only model's logit-margin error
    (docs/int8_ops.md).

    Args:
        positions: (l, e); types: (t, e); token_type_ids: (b, l) int, each in [0, t)
            (a larger one would read another position's row; the runtime's input
            checks refuse it).
    Returns (b, l, e).
    """
    seq_len, type_count = ops.shape(positions)[0], ops.shape(types)[0]
    table = ops.reshape(
        positions[:, None, :] + types[None, :, :], (seq_len * type_count, -1)
    )  # (l * t, e): row p * t + k is position p plus type k
    index = ops.arange(seq_len, dtype="int32")[None, :] * type_count + ops.cast(
        token_type_ids, "int32"
    )  # (b, l)
    return ops.take(table, index, axis=0)  # (b, l, e)


def centred_rows(table):
    """``table`` (r, e) with each row's mean over e taken away."""
    return table - ops.mean(table, axis=-1, keepdims=True)  # (r, e)


def embeddings_integer(embeddings, project, input_ids, token_type_ids):
    """The embedding block, ``project(embeddings(input_ids, token_type_ids))``, with three
    int8 roundings fewer; for inference (no dropout).

    - The word, position and type tables are centred row by row. A sum of centred rows
      is the centred sum, so LayerNorm needs no MEAN and SUB, whose output was rounded
      to the sum's coarse grid (0.0041 on the default model, for a token spread of 0.08).
    - LayerNorm's gamma and beta fold into the projection to the hidden width:
      (n * gamma + beta) W + c = n (gamma W) + (beta W + c), so the normalized tokens go
      straight into the projection's matmul (no MUL and ADD, each rounded at the grid of
      the normalized values). Without a projection (embedding size = hidden size) they
      stay.

    On the default model the integer-only model's logit-margin error fell from 0.062 to
    0.053 RMS on the dev split (docs/int8_ops.md).

    Args:
        embeddings: keras_stack.layers.ConvBertEmbeddings; project: its Dense to the
            hidden width, or None; input_ids, token_type_ids: (b, l) int.
    Returns (b, l, h).
    """
    norm = embeddings.layer_norm
    positions = embeddings.position_embeddings.embeddings[: ops.shape(input_ids)[1]]  # (l, e)
    types = embeddings.token_type_embeddings.embeddings  # (t, e)
    words = ops.take(centred_rows(embeddings.word_embeddings.embeddings), input_ids, axis=0)
    x = words + position_and_type(centred_rows(positions), centred_rows(types), token_type_ids)
    n = normalized(x, norm.epsilon)  # (b, l, e)
    if project is None:
        return n * norm.gamma + norm.beta  # (b, l, h)
    kernel = norm.gamma[:, None] * project.kernel  # (e, h)
    bias = ops.matmul(norm.beta[None, :], project.kernel)[0] + project.bias  # (h,)
    return ops.matmul(n, kernel) + bias  # (b, l, h)


def normalized(centred, epsilon):
    """``centred`` (zero mean over the last axis) over its root mean square: MUL-square,
    MEAN, ADD, RSQRT, MUL. LayerNorm's step after centring, before gamma and beta."""
    variance = ops.mean(centred * centred, axis=-1, keepdims=True)  # (..., 1)
    return centred * ops.rsqrt(variance + epsilon)  # same shape as centred


def layer_norm_integer(layer, x):
    """``layer`` (a keras LayerNormalization over the last axis) applied to ``x`` as
    mean, centre, ``normalized``, scale: the same arithmetic as Keras' own."""
    centred = x - ops.mean(x, axis=-1, keepdims=True)  # (b, l, h)
    return normalized(centred, layer.epsilon) * layer.gamma + layer.beta  # (b, l, h)


def layer_norm(layer, x, graph: Graph):
    """``layer(x)`` in the reference graph, ``layer_norm_integer`` in the integer one."""
    return layer_norm_integer(layer, x) if graph is Graph.INTEGER else layer(x)


# 128/255: the point of [min, max] that int8's zero point (-128 + 128 = 0) maps to.
ZERO_POINT_SHARE = 128.0 / 255.0


def zero_point_free(x):
    """``x - c`` whose calibrated int8 zero point is exactly 0, and ``c``: (1, ..., 1).

    XNNPACK's int8 BATCH_MATMUL refuses a right-hand side with a zero point (xnnpack_
    delegate.cc: "non-zero zero point ... is not supported"), and a calibrated
    activation has one: the matmul then runs in TFLite's own int8 kernel, measured the
    largest cost of the integer-only model. With c = min + 128/255 (max - min) over the
    tensor, every call spans [-128 u, 127 u] with u = (max - min) / 255, so over all
    calibration calls the range is [-128 U, 127 U] (U from the widest call) and the
    converter's zero point -128 - min / scale comes out 0, not -0.5 rounded to -1 as
    for a symmetric range. The matmuls make up for c exactly (see the callers), so its
    own int8 rounding costs nothing.
    """
    axes = tuple(range(len(x.shape)))
    lo = ops.min(x, axis=axes, keepdims=True)  # (1, ..., 1)
    hi = ops.max(x, axis=axes, keepdims=True)  # (1, ..., 1)
    centre = lo + (hi - lo) * ZERO_POINT_SHARE  # (1, ..., 1)
    return x - centre, centre


def scores_integer(q, k):
    """q k^T for softmax, with k's zero point 0: q (k - c)^T differs from q k^T by
    c * sum(q) on each query row, a constant over the keys the softmax ignores.

    Args: q, k: (b, n, l, d). Returns (b, n, l, l).
    """
    shifted, _ = zero_point_free(k)
    return ops.matmul(q, ops.transpose(shifted, (0, 1, 3, 2)))  # (b, n, l, l)


def mix_integer(weights, values, rows_sum_to_one: bool):
    """weights @ values with values' zero point 0: weights (v - c) + c * rowsum(weights).

    Args:
        weights: (b, n, l, m) (attention probabilities, or the convolution's band
            matrix, whose rows are cut at the sequence ends).
        values: (b, n, m, d).
        rows_sum_to_one: softmax rows (rowsum is 1: add c itself) or not (add
            c * rowsum, one SUM more).
    Returns (b, n, l, d).
    """
    shifted, centre = zero_point_free(values)
    out = ops.matmul(weights, shifted)  # (b, n, l, d)
    if rows_sum_to_one:
        return out + centre
    return out + centre * ops.sum(weights, axis=-1, keepdims=True)  # (b, n, l, d)
