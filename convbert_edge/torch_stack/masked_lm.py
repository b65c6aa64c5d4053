"""ConvBertForMaskedLM: the generator head predicting a token at every position."""

from __future__ import annotations

import torch
from torch import nn

from convbert_edge.checkpoint import ties_word_embeddings
from convbert_edge.config import ConvBertConfig
from convbert_edge.tasks import Task
from convbert_edge.torch_stack.model import ConvBertModel
from convbert_edge.torch_stack.pretrained import ConvBertPreTrainedModel


class ConvBertGeneratorPredictions(nn.Module):
    """hidden -> embedding width, GELU, LayerNorm.

    Always the exact (erf) GELU, whatever ``hidden_act`` says: transformers hard-codes it.
    """

    def __init__(self, config: ConvBertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.embedding_size)
        self.activation = nn.GELU()
        self.LayerNorm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.activation(self.dense(x)))  # (b, s, e)


class ConvBertForMaskedLM(ConvBertPreTrainedModel):
    """ConvBERT with the masked-language-model head; returns ``logits`` (b, s, vocab).

    The output projection shares the word-embedding matrix unless config.json sets
    ``tie_word_embeddings`` to false, as in transformers.

    Example:
        >>> cfg = ConvBertConfig.preset("conv-bert-small", num_hidden_layers=2)
        >>> model = ConvBertForMaskedLM(cfg)
        >>> model.eval()(*model.example_inputs(1, 16))["logits"].shape
        torch.Size([1, 16, 30522])
    """

    task = Task.MASKED_LM

    def __init__(self, config: ConvBertConfig):
        super().__init__(config)
        self.convbert = ConvBertModel(config)
        self.generator_predictions = ConvBertGeneratorPredictions(config)
        self.generator_lm_head = nn.Linear(config.embedding_size, config.vocab_size)
        self.post_init()

    def tie_weights(self) -> None:
        if ties_word_embeddings(self.config):
            self.generator_lm_head.weight = self.convbert.embeddings.word_embeddings.weight

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        hidden = self.convbert.encode(input_ids, attention_mask, token_type_ids)  # (b, s, h)
        return {"logits": self.generator_lm_head(self.generator_predictions(hidden))}  # (b, s, v)
