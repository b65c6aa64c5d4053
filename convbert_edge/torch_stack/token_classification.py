"""ConvBertForTokenClassification: one label per token (NER, tagging)."""

from __future__ import annotations

import torch
from torch import nn

from convbert_edge.config import ConvBertConfig
from convbert_edge.tasks import Task
from convbert_edge.torch_stack.model import ConvBertModel
from convbert_edge.torch_stack.pretrained import ConvBertPreTrainedModel
from convbert_edge.torch_stack.sequence_classification import classifier_dropout


class ConvBertForTokenClassification(ConvBertPreTrainedModel):
    """ConvBERT with a linear classifier per token; returns ``logits`` (b, s, num_labels).

    Example:
        >>> cfg = ConvBertConfig.preset("conv-bert-small", num_hidden_layers=2)
        >>> model = ConvBertForTokenClassification(cfg).eval()
        >>> model(*model.example_inputs(1, 16))["logits"].shape
        torch.Size([1, 16, 2])
    """

    task = Task.TOKEN_CLASSIFICATION

    def __init__(self, config: ConvBertConfig):
        super().__init__(config)
        self.convbert = ConvBertModel(config)
        self.dropout = nn.Dropout(classifier_dropout(config))
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        hidden = self.convbert.encode(input_ids, attention_mask, token_type_ids)  # (b, s, h)
        return {"logits": self.classifier(self.dropout(hidden))}  # (b, s, labels)
