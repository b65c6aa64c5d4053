"""LayerNorm written in the ops ExecuTorch's XNNPACK partitioner takes, for .pte export.

executorch 1.5.1's XNNPACK partitioner has no config for ``native_layer_norm``: it runs
in the portable kernels, and every encoder layer is cut into several delegates around
its two LayerNorms. The partitioner does take mean.dim, sub, mul, add and rsqrt, with
one constraint that shapes the code below: mean.dim only as a 4-D global average pool,
over dims (2, 3) with keepdim=True (partition/config/generic_node_configs.py
MeanDimConfig). So (b, s, w) is viewed as (b, s, 1, w): the positions are the pool's
channels, and XNNPACK, which pools channels-last, transposes it to (b, 1, w, s) and
averages over w with the positions in its vector lanes. Measured on a chain of 9
LayerNorms of (1, 128, 256), each with a residual add, lowered alone (1 thread, median
of 200): 276-283 us this way, 315 us for the portable
native_layer_norm, 1080 us with the rows as one-channel images ((b*s, 1, 1, w): no
transpose, but a pool with one lane busy), 329 us with the mean as a linear against a
constant 1/w row. The (b, s, 1, 1) result goes straight back to 3-D, so the arithmetic
after it never sees a channels-last tensor.

Measured again in the whole default model, int8 .pte, 2 threads, alone on the AVX2 EPYC
of docs/cpus.md (2026-12-08; programs timed alternately in one process, 120-200
rounds): the pools' transposes are 36 of the program's 472 XNNPACK operators. The row
means as linears against the 1/w row (a non-persistent buffer) left 400 operators and
measured 2.5-4.4% faster (13.57-14.16 against 13.91-14.79 ms), but in eager PyTorch,
on rows whose mean is 2000 times their spread, their BLAS sums lose more of the mean
than torch.mean does: 1.9e-4 against nn.LayerNorm's 7.7e-5 at width 256, where
tests/test_executorch_layer_norm.py allows 2x; median ratio 1.88 over 30 seeds at
width 768, the pools' 1.24. Subtracting the mean of the centred values a second time
(418 operators) made it a hundred times more accurate than nn.LayerNorm there and took
the speed away: 14.12 against 14.12 ms at 2 threads, 24.80 against 25.11 at 1. Only
the variance's mean as a linear (a sum of squares: no cancellation, and the pools'
accuracy on those rows, the same ratios over the 30 seeds) measured 0.5-1.8% faster at
2 threads in four runs (14.23 against 14.46 ms, 13.75 against 13.84) and 0.3% at 1.
None was taken; the last is the candidate if a CPU shows more for it.

The exporter swaps these in on a copy of the model (``with_xnnpack_layer_norms``);
the model the user loads keeps nn.LayerNorm. The parameters keep nn.LayerNorm's names
(``LayerNorm.weight`` / ``.bias``), so state dicts move between the two unchanged.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from convbert_edge.errors import ExportError


class XnnpackLayerNorm(nn.LayerNorm):
    """nn.LayerNorm over the last dimension as mean, subtract, square, mean, rsqrt, scale.

    The variance is the mean square of the centred values (two passes, never negative),
    as nn.LayerNorm computes it.

    Args:
        normalized_shape, eps, **kwargs: as nn.LayerNorm; one normalized dimension, with
            weight and bias.

    Example:
        >>> norm = XnnpackLayerNorm.from_layer_norm(model.encoder.layer[0].output.LayerNorm)
    """

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5, **kwargs):
        super().__init__(normalized_shape, eps=eps, **kwargs)
        if not _last_dim_affine(self):
            raise ExportError(
                "XnnpackLayerNorm normalizes the last dimension with a weight and a bias; "
                f"got normalized_shape={self.normalized_shape}, "
                f"weight={self.weight is not None}, bias={self.bias is not None}"
            )

    @classmethod
    def from_layer_norm(cls, norm: nn.LayerNorm) -> XnnpackLayerNorm:
        """A copy of ``norm``: same eps, parameter values, dtype, device and mode."""
        if not _last_dim_affine(norm):
            raise ExportError(f"cannot rewrite {norm} for XNNPACK: only last-dim affine ones")
        new = cls(
            norm.normalized_shape, eps=norm.eps, device=norm.weight.device, dtype=norm.weight.dtype
        )
        new.load_state_dict(norm.state_dict())
        return new.train(norm.training)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        per_row = (*x.shape[:-1], 1)
        mean = _row_mean(x).reshape(per_row)  # (..., s, 1)
        centered = x - mean  # (..., s, w)
        var = _row_mean(centered * centered).reshape(per_row)  # (..., s, 1)
        normed = centered * torch.rsqrt(var + self.eps)  # (..., s, w)
        return normed * self.weight + self.bias  # (..., s, w)


def _row_mean(x: torch.Tensor) -> torch.Tensor:
    # (..., s, w) -> (b, s, 1, w) -> (b, s, 1, 1): the only mean.dim XNNPACK lowers, a
    # global average pool over the two innermost dims of a 4-D tensor, keepdim.
    seq, width = (1, *x.shape)[-2:]  # a 1-D input is one row
    return x.reshape(-1, seq, 1, width).mean(dim=(2, 3), keepdim=True)


def with_xnnpack_layer_norms(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` with every nn.LayerNorm replaced by an XnnpackLayerNorm.

    ``model`` itself is left unchanged. Module paths and parameter names stay the same.
    A LayerNorm over more than the last dimension, or without weight or bias, is left as
    it is (ConvBERT has none).
    """
    model = copy.deepcopy(model)
    if type(model) is nn.LayerNorm and _last_dim_affine(model):
        return XnnpackLayerNorm.from_layer_norm(model)
    for name, module in list(model.named_modules()):
        if name and type(module) is nn.LayerNorm and _last_dim_affine(module):
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, XnnpackLayerNorm.from_layer_norm(module))
    return model


def _last_dim_affine(norm: nn.LayerNorm) -> bool:
    return len(norm.normalized_shape) == 1 and norm.weight is not None and norm.bias is not None
