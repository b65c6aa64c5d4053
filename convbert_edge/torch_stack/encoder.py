"""The stack of ConvBERT layers: mixed attention then feed-forward, each with residual + norm."""

from __future__ import annotations

import torch
from torch import nn

from convbert_edge.config import ConvBertConfig
from convbert_edge.torch_stack.attention import ConvBertAttention
from convbert_edge.torch_stack.feed_forward import ConvBertIntermediate, ConvBertOutput


class ConvBertLayer(nn.Module):
    """One encoder layer."""

    def __init__(self, config: ConvBertConfig):
        super().__init__()
        self.attention = ConvBertAttention(config)
        self.intermediate = ConvBertIntermediate(config)
        self.output = ConvBertOutput(config)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        attended = self.attention(x, keep)  # (b, s, h)
        return self.output(self.intermediate(attended), attended)  # (b, s, h)


class ConvBertEncoder(nn.Module):
    """``num_hidden_layers`` layers in order; ``layer`` is named as in transformers."""

    def __init__(self, config: ConvBertConfig):
        super().__init__()
        self.layer = nn.ModuleList(ConvBertLayer(config) for _ in range(config.num_hidden_layers))

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        for layer in self.layer:
            x = layer(x, keep)
        return x  # (b, s, h)
