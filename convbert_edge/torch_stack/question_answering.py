"""ConvBertForQuestionAnswering: start and end scores of an extractive answer span."""

from __future__ import annotations

import torch
from torch import nn

from convbert_edge.config import ConvBertConfig
from convbert_edge.tasks import Task
from convbert_edge.torch_stack.model import ConvBertModel
from convbert_edge.torch_stack.pretrained import ConvBertPreTrainedModel


class ConvBertForQuestionAnswering(ConvBertPreTrainedModel):
    """ConvBERT with ``qa_outputs`` (h -> 2); returns ``start_logits`` and ``end_logits`` (b, s).

    transformers sizes qa_outputs by num_labels but then splits it into exactly two
    outputs, so only num_labels == 2 works there; here the head is always two wide.

    Example:
        >>> cfg = ConvBertConfig.preset("conv-bert-small", num_hidden_layers=2)
        >>> model = ConvBertForQuestionAnswering(cfg).eval()
        >>> sorted(model(*model.example_inputs(1, 16)))
        ['end_logits', 'start_logits']
    """

    task = Task.QUESTION_ANSWERING

    def __init__(self, config: ConvBertConfig):
        super().__init__(config)
        self.convbert = ConvBertModel(config)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.post_init()

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        hidden = self.convbert.encode(input_ids, attention_mask, token_type_ids)  # (b, s, h)
        logits = self.qa_outputs(hidden)  # (b, s, 2)
        return {"start_logits": logits[:, :, 0], "end_logits": logits[:, :, 1]}
