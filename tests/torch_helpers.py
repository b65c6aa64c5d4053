"""Shared pieces of the PyTorch-stack tests: the transformers oracle, configs and inputs.

transformers' classes are imported from their submodules so that no USE_TF setting is
needed (other tests in the same process use its TensorFlow classes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from convbert_edge.config import ConvBertConfig
from convbert_edge.tasks import Task
from convbert_edge.torch_stack import MODEL_CLASSES, ConvBertPreTrainedModel


def reference_classes() -> dict[Task, type]:
    from transformers.models.convbert import modeling_convbert as hf

    return {
        Task.BASE: hf.ConvBertModel,
        Task.MASKED_LM: hf.ConvBertForMaskedLM,
        Task.SEQUENCE_CLASSIFICATION: hf.ConvBertForSequenceClassification,
        Task.MULTIPLE_CHOICE: hf.ConvBertForMultipleChoice,
        Task.TOKEN_CLASSIFICATION: hf.ConvBertForTokenClassification,
        Task.QUESTION_ANSWERING: hf.ConvBertForQuestionAnswering,
    }


def reference_config(config: ConvBertConfig):
    from transformers.models.convbert.configuration_convbert import ConvBertConfig as HFConfig

    return HFConfig(**config.to_dict())


def tiny_config(**overrides) -> ConvBertConfig:
    """A 2-layer, 64-wide config that still has every feature (projection, groups)."""
    base = dict(
        vocab_size=128,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        embedding_size=32,
        num_groups=2,
        max_position_embeddings=160,
        pad_token_id=0,
    )
    return ConvBertConfig(**{**base, **overrides})


def reference_model(config: ConvBertConfig, task: Task, seed: int = 0) -> torch.nn.Module:
    """transformers' model for ``task``, with its own initialisation, in eval mode."""
    torch.manual_seed(seed)
    return reference_classes()[task](reference_config(config)).eval()


def sharpen(model: torch.nn.Module, seed: int = 1) -> torch.nn.Module:
    """Redraw every tensor at a larger scale so that kernels, softmaxes and norms matter.

    transformers' initialisation (std 0.02, LayerNorm 1/0, biases 0) leaves the
    convolution kernels near uniform, where a wrong neighbour order would go unseen.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=generator)
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + 0.3 * noise)
            elif p.ndim == 1 or name.endswith(".bias"):
                p.copy_(0.3 * noise)
            else:
                fan_in = p[0].numel() if p.ndim > 1 else 1
                p.copy_(noise / max(fan_in, 1) ** 0.5)
    return model


def load_ours(reference: torch.nn.Module, task: Task, directory: Path) -> ConvBertPreTrainedModel:
    """Save transformers' model with save_pretrained and load it with ours."""
    reference.save_pretrained(directory)
    return MODEL_CLASSES[task].from_pretrained(directory)


def make_inputs(
    shape: tuple[int, ...],
    vocab_size: int,
    seed: int = 0,
    padded: bool = True,
    dtype: torch.dtype = torch.long,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random ids and segments; with ``padded``, every row but the first ends in padding."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(1, vocab_size, shape, generator=generator)
    token_type_ids = torch.randint(0, 2, shape, generator=generator)
    attention_mask = torch.ones(shape, dtype=torch.long)
    if padded:
        flat_ids, flat_mask = input_ids.view(-1, shape[-1]), attention_mask.view(-1, shape[-1])
        for row in range(1, flat_ids.shape[0]):
            length = max(1, shape[-1] - 3 * row)
            flat_ids[row, length:] = 0
            flat_mask[row, length:] = 0
    return input_ids.to(dtype), attention_mask.to(dtype), token_type_ids.to(dtype)


def reference_outputs(reference: torch.nn.Module, task: Task, inputs) -> dict[str, torch.Tensor]:
    from convbert_edge.tasks import OUTPUT_NAMES

    input_ids, attention_mask, token_type_ids = inputs
    with torch.no_grad():
        out = reference(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        )
    return {name: out[name] for name in OUTPUT_NAMES[task]}


def max_abs_diffs(ours: dict, reference: dict) -> dict[str, float]:
    """Per output name, the largest absolute difference (names must agree)."""
    assert list(ours) == list(reference), (list(ours), list(reference))
    diffs = {}
    for name in ours:
        a, b = np.asarray(ours[name].detach()), np.asarray(reference[name].detach())
        assert a.shape == b.shape, (name, a.shape, b.shape)
        diffs[name] = float(np.max(np.abs(a - b)))
    return diffs
