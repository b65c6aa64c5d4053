"""ConvBertForSequenceClassification: one label (or regression value) per sequence."""

from __future__ import annotations

import torch
from torch import nn

from convbert_edge.config import ConvBertConfig
from convbert_edge.tasks import Task
from convbert_edge.torch_stack.activations import activation
from convbert_edge.torch_stack.model import ConvBertModel
from convbert_edge.torch_stack.pretrained import ConvBertPreTrainedModel, token_at


def classifier_dropout(config: ConvBertConfig) -> float:
    if config.classifier_dropout is not None:
        return config.classifier_dropout
    return config.hidden_dropout_prob


class ConvBertClassificationHead(nn.Module):
    """First token -> dropout -> dense (h, h) -> hidden_act -> dropout -> out_proj (h, labels)."""

    def __init__(self, config: ConvBertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = activation(config.hidden_act)
        self.dropout = nn.Dropout(classifier_dropout(config))
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        x = self.dropout(token_at(hidden, 0))  # (b, h)
        x = self.dropout(self.activation(self.dense(x)))  # (b, h)
        return self.out_proj(x)  # (b, labels)


class ConvBertForSequenceClassification(ConvBertPreTrainedModel):
    """ConvBERT with a classifier on the first token; returns ``logits`` (b, num_labels).

    Example:
        >>> cfg = ConvBertConfig.preset("conv-bert-small", num_hidden_layers=2)
        >>> model = ConvBertForSequenceClassification(cfg).eval()
        >>> model(*model.example_inputs(2, 16))["logits"].shape
        torch.Size([2, 2])
    """

    task = Task.SEQUENCE_CLASSIFICATION

    def __init__(self, config: ConvBertConfig):
        super().__init__(config)
        self.convbert = ConvBertModel(config)
        self.classifier = ConvBertClassificationHead(config)
        self.post_init()

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        hidden = self.convbert.encode(input_ids, attention_mask, token_type_ids)  # (b, s, h)
        return {"logits": self.classifier(hidden)}
