"""ConvBertModel: embeddings, optional projection to the hidden width, and the encoder."""

from __future__ import annotations

import torch
from torch import nn

from convbert_edge.config import ConvBertConfig
from convbert_edge.tasks import Task
from convbert_edge.torch_stack.embeddings import ConvBertEmbeddings
from convbert_edge.torch_stack.encoder import ConvBertEncoder
from convbert_edge.torch_stack.pretrained import ConvBertPreTrainedModel


def keep_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(b, s) 1/0 mask -> (b, 1, 1, s) in ``dtype``: 1 where attended, 0 where padded.

    attention.mask_scores turns it into the shift that masks padded keys.
    """
    return attention_mask.to(dtype)[:, None, None, :]  # (b, 1, 1, s)


class ConvBertModel(ConvBertPreTrainedModel):
    """The ConvBERT encoder without a head; tensor names are transformers' without prefix.

    Args:
        config: a ConvBertConfig.

    Example:
        >>> cfg = ConvBertConfig.preset("conv-bert-small", num_hidden_layers=2)
        >>> model = ConvBertModel(cfg).eval()
        >>> model(*model.example_inputs(1, 16))["last_hidden_state"].shape
        torch.Size([1, 16, 256])
    """

    task = Task.BASE

    def __init__(self, config: ConvBertConfig):
        super().__init__(config)
        self.embeddings = ConvBertEmbeddings(config)
        if config.embedding_size != config.hidden_size:
            self.embeddings_project = nn.Linear(config.embedding_size, config.hidden_size)
        else:
            self.embeddings_project = nn.Identity()
        self.encoder = ConvBertEncoder(config)
        self.post_init()

    def encode(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        """The last hidden state (b, s, h); ids may be int32 or int64."""
        x = self.embeddings(input_ids.long(), token_type_ids.long())  # (b, s, e)
        x = self.embeddings_project(x)  # (b, s, h)
        return self.encoder(x, keep_mask(attention_mask, x.dtype))  # (b, s, h)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        return {"last_hidden_state": self.encode(input_ids, attention_mask, token_type_ids)}
