"""ConvBERT's mixed attention: self-attention heads beside span-based dynamic convolution heads.

Of the hidden width, half goes to ``attention_heads`` ordinary self-attention heads and
half to as many dynamic-convolution heads. A convolution head mixes the ``k`` neighbours
of each position with a softmax kernel predicted from that position. The reference
gathers the neighbours with ``nn.Unfold`` (im2col), which lowers to index ops that stay
outside XNNPACK; here the kernels are laid out as a band matrix with a pad and static
reshapes, and one batched matmul mixes the neighbours (``dynamic_convolution``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from convbert_edge.config import MASK_MARGIN, ConvBertConfig


class SeparableConv1D(nn.Module):
    """Depthwise conv over the sequence, pointwise (1x1) conv, then a per-channel bias.

    Works on ``(b, channels, s)``; zero padding keeps the sequence length, so padded
    positions of the input do reach real tokens (the reference does the same).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.depthwise = nn.Conv1d(
            in_channels,
            in_channels,
            kernel_size,
            groups=in_channels,
            padding=kernel_size // 2,
            bias=False,
        )
        self.pointwise = nn.Conv1d(in_channels, out_channels, kernel_size=1, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x)) + self.bias  # (b, out, s)


def mask_scores(scores: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Scores of masked keys moved below every real key's, by the row's own range.

    The reference adds finfo(float32).min instead. Both give masked keys no weight in
    float, but a constant that large wrecks integer quantization: the XNNPACK quantizer
    (and int8 TFLite) derive the scale of this sum from its range, so every real score
    would fall into one quantization step. A shift sized by the row's range keeps the
    sum's range at about twice the scores'. The one difference: a row whose keys are all
    masked keeps its scores (the reference makes it uniform); real inputs keep [CLS].

    Args:
        scores: (b, nh, s, s) attention scores.
        keep: (b, 1, 1, s) float, 1 for real tokens and 0 for padding.
    """
    spread = scores.amax(dim=-1, keepdim=True) - scores.amin(dim=-1, keepdim=True)  # (b, nh, s, 1)
    return scores - (1.0 - keep) * (spread + MASK_MARGIN)  # (b, nh, s, s)


def mask_scores_constant(scores: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Scores with every masked key set to ``-MASK_MARGIN``: no reductions.

    The .pte export's formulation (torch_stack.formulation). ``mask_scores``' amax and
    amin have no XNNPACK lowering in executorch 1.5.1, so they cut every layer's
    delegate in two; a MUL by the 0/1 mask and an ADD of its bias are delegated. In
    float a masked key then weighs exp(-MASK_MARGIN - row max) against the row's largest
    score, below 1e-13 for any row whose largest score is at least 0; in int8 the sum's
    range is the scores' stretched to -MASK_MARGIN, where the row shift stretches it by
    the row's spread on top. The Keras stack's integer graph does the same
    (keras_stack.formulation.masked_scores_integer).

    Args:
        scores: (b, nh, s, s) attention scores.
        keep: (b, 1, 1, s) float, 1 for real tokens and 0 for padding.
    """
    return scores * keep + (keep - 1.0) * MASK_MARGIN  # (b, nh, s, s)


def dynamic_convolution(values: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Mix each position's ``k`` neighbours with its own per-head kernel.

    out[b, t, h, :] = sum_j kernels[b, t, h, j] * values[b, t + j - (k - 1) // 2, h, :],
    with zeros beyond both ends, as the reference's unfold does. The kernels are laid
    out as a band matrix (row t holds kernel t on the diagonals t - pad .. t + pad) by
    padding, flattening and re-cutting the rows one column shorter, which shifts each
    row one place right of the one above; one batched matmul then mixes the values.
    No gather, no (b, s, a, k) tensor, and five ops whatever k is.

    Args:
        values: (b, s, heads * head_size).
        kernels: (b, s, heads, k), already normalised.

    Returns:
        (b, s, heads, head_size).
    """
    b, s, width = values.shape
    heads, k = kernels.shape[2], kernels.shape[3]
    d, pad = width // heads, (k - 1) // 2
    kern = kernels.permute(0, 2, 1, 3).reshape(b * heads, s, k)  # (b*nh, s, k)
    skew = nn.functional.pad(kern, (0, s)).reshape(b * heads, s * (k + s))  # (b*nh, s*(k+s))
    skew = skew[:, : s * (k + s - 1)].reshape(b * heads, s, k + s - 1)  # row t shifted by t
    band = skew[:, :, pad : pad + s]  # (b*nh, s, s): weight of position u for output t
    v = values.reshape(b, s, heads, d).transpose(1, 2).reshape(b * heads, s, d)  # (b*nh, s, d)
    out = torch.bmm(band, v)  # (b*nh, s, d)
    return out.reshape(b, heads, s, d).transpose(1, 2)  # (b, s, nh, d)


class ConvBertSelfAttention(nn.Module):
    """Self-attention heads and dynamic-convolution heads, concatenated in that order.

    Args:
        config: the model's ConvBertConfig; ``config.attention_heads`` heads of width
            ``config.attention_head_size`` for each half.
    """

    def __init__(self, config: ConvBertConfig):
        super().__init__()
        h, a = config.hidden_size, config.all_head_size
        self.num_heads = config.attention_heads
        self.head_size = config.attention_head_size
        self.kernel_size = config.conv_kernel_size
        self.query = nn.Linear(h, a)
        self.key = nn.Linear(h, a)
        self.value = nn.Linear(h, a)
        self.key_conv_attn_layer = SeparableConv1D(h, a, self.kernel_size)
        self.conv_kernel_layer = nn.Linear(a, self.num_heads * self.kernel_size)
        self.conv_out_layer = nn.Linear(h, a)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)
        # mask_scores for the reference graph; torch_stack.formulation swaps in
        # mask_scores_constant on the copy it makes for .pte export
        self.mask = mask_scores

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, s, _ = x.shape
        x = x.reshape(b, s, self.num_heads, self.head_size).transpose(1, 2)  # (b, nh, s, d)
        return x.reshape(b * self.num_heads, s, self.head_size)  # (b*nh, s, d)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """x: (b, s, h); keep: (b, 1, 1, s), 1.0 at tokens and 0.0 at padding."""
        b, s, _ = x.shape
        nh, d = self.num_heads, self.head_size
        query = self.query(x)  # (b, s, a)

        # Dynamic convolution: the kernel comes from the separable conv of the input,
        # gated by the query; the conv branch does not see the attention mask.
        key_conv = self.key_conv_attn_layer(x.transpose(1, 2)).transpose(1, 2)  # (b, s, a)
        kernels = self.conv_kernel_layer(key_conv * query)  # (b, s, nh * k)
        kernels = torch.softmax(kernels.reshape(b, s, nh, self.kernel_size), dim=-1)
        conv = dynamic_convolution(self.conv_out_layer(x), kernels)  # (b, s, nh, d)

        # 3-D bmm rather than 4-D matmul: matmul exports as expand + bmm, and the
        # expands stay outside XNNPACK as copies.
        q, k, v = self._heads(query), self._heads(self.key(x)), self._heads(self.value(x))
        scores = torch.bmm(q, k.transpose(1, 2)) / math.sqrt(d)  # (b*nh, s, s)
        scores = self.mask(scores.reshape(b, nh, s, s), keep)  # (b, nh, s, s)
        probs = self.dropout(torch.softmax(scores, dim=-1)).reshape(b * nh, s, s)
        context = torch.bmm(probs, v).reshape(b, nh, s, d).transpose(1, 2)  # (b, s, nh, d)

        return torch.cat([context, conv], dim=2).reshape(b, s, 2 * nh * d)  # (b, s, h)


class ConvBertSelfOutput(nn.Module):
    """Dense projection of the mixed heads, dropout, residual add and LayerNorm."""

    def __init__(self, config: ConvBertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)  # (b, s, h)


class ConvBertAttention(nn.Module):
    """The mixed attention sub-layer: ``self`` (heads) then ``output`` (projection + norm)."""

    def __init__(self, config: ConvBertConfig):
        super().__init__()
        self.self = ConvBertSelfAttention(config)
        self.output = ConvBertSelfOutput(config)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(x, keep), x)  # (b, s, h)
