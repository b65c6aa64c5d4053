"""int8 word embeddings for the PyTorch stack: the largest tensor of a small ConvBERT.

The XNNPACK quantizer leaves embedding tables in float, and for conv-bert-small the
word table (30522 x 128) is a third of the weights: an int8 artifact would keep half
its fp32 size. Here the table is stored as int8 with one symmetric scale per row, and
looked up with two plain embedding ops (codes, then scales) and a multiply: ops the
ExecuTorch portable library runs, with no custom kernel.
"""

from __future__ import annotations

import torch
from torch import nn


class Int8Embedding(nn.Module):
    """An embedding table stored as int8 rows with one float scale per row.

    Args:
        weight: the float table (num_embeddings, dim).

    Example:
        >>> emb = Int8Embedding(torch.randn(10, 4))
        >>> emb(torch.tensor([[1, 2]])).shape
        torch.Size([1, 2, 4])
    """

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        weight = weight.detach().float()
        scale = weight.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127.0  # (v, 1)
        codes = torch.round(weight / scale).clamp(-127, 127).to(torch.int8)  # (v, d)
        self.register_buffer("codes", codes)
        self.register_buffer("scale", scale)

    @property
    def weight(self) -> torch.Tensor:
        """The dequantized table, for code that reads ``.weight``."""
        return self.codes.float() * self.scale

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        codes = nn.functional.embedding(ids, self.codes).to(torch.float32)  # (..., d)
        return codes * nn.functional.embedding(ids, self.scale)  # (..., d)


def quantize_word_embeddings(model: nn.Module) -> list[str]:
    """Swap every ``word_embeddings`` nn.Embedding of ``model`` for an Int8Embedding, in place.

    Returns the names of the swapped modules (for the manifest).
    """
    swapped = []
    for name, module in list(model.named_modules()):
        if name.endswith("word_embeddings") and isinstance(module, nn.Embedding):
            parent_name, _, attr = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, attr, Int8Embedding(module.weight))
            swapped.append(name)
    return swapped
