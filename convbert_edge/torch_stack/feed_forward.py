"""The position-wise feed-forward block, with ConvBERT's grouped dense layers."""

from __future__ import annotations

import torch
from torch import nn

from convbert_edge.config import ConvBertConfig
from convbert_edge.torch_stack.activations import activation


class GroupedLinear(nn.Module):
    """A block-diagonal dense layer: ``num_groups`` independent slices of the width.

    The weight keeps transformers' layout ``(groups, in / groups, out / groups)``, so it
    loads by name; output channel ``g * out_g + o`` comes from group ``g``.

    Args:
        in_features, out_features: total widths, both divisible by ``num_groups``.
        num_groups: number of independent groups.
    """

    def __init__(self, in_features: int, out_features: int, num_groups: int):
        super().__init__()
        self.num_groups = num_groups
        self.in_group = in_features // num_groups
        self.out_features = out_features
        out_group = out_features // num_groups
        self.weight = nn.Parameter(torch.empty(num_groups, self.in_group, out_group))
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, _ = x.shape
        x = x.reshape(b * s, self.num_groups, self.in_group).transpose(0, 1)  # (g, b*s, in_g)
        y = torch.bmm(x, self.weight)  # (g, b*s, out_g)
        y = y.transpose(0, 1).reshape(b, s, self.out_features)  # (b, s, out)
        return y + self.bias


def dense(in_features: int, out_features: int, num_groups: int) -> nn.Module:
    if num_groups == 1:
        return nn.Linear(in_features, out_features)
    return GroupedLinear(in_features, out_features, num_groups)


class ConvBertIntermediate(nn.Module):
    """hidden -> intermediate width, then the config's activation."""

    def __init__(self, config: ConvBertConfig):
        super().__init__()
        self.dense = dense(config.hidden_size, config.intermediate_size, config.num_groups)
        self.intermediate_act_fn = activation(config.hidden_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.intermediate_act_fn(self.dense(x))  # (b, s, i)


class ConvBertOutput(nn.Module):
    """intermediate -> hidden width, dropout, residual add and LayerNorm."""

    def __init__(self, config: ConvBertConfig):
        super().__init__()
        self.dense = dense(config.intermediate_size, config.hidden_size, config.num_groups)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)  # (b, s, h)
