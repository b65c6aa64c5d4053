"""Word + position + token-type embeddings, then LayerNorm: ConvBERT's input layer."""

from __future__ import annotations

import torch
from torch import nn

from convbert_edge.config import ConvBertConfig


class ConvBertEmbeddings(nn.Module):
    """Embeds token ids at width ``embedding_size``.

    Positions are 0 .. seq_len-1, taken as a static slice of the position table rather
    than looked up, so the exported graph holds no index op for them.

    Args:
        config: the model's ConvBertConfig.

    Example:
        >>> emb = ConvBertEmbeddings(ConvBertConfig(hidden_size=32, embedding_size=16,
        ...                          num_attention_heads=4, intermediate_size=64))
        >>> ids = torch.zeros(2, 8, dtype=torch.long)
        >>> emb(ids, ids).shape
        torch.Size([2, 8, 16])
    """

    def __init__(self, config: ConvBertConfig):
        super().__init__()
        pad = config.pad_token_id
        padding_idx = pad if pad is not None and 0 <= pad < config.vocab_size else None
        self.word_embeddings = nn.Embedding(
            config.vocab_size, config.embedding_size, padding_idx=padding_idx
        )
        self.position_embeddings = nn.Embedding(
            config.max_position_embeddings, config.embedding_size
        )
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.embedding_size)
        self.LayerNorm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        seq_len = input_ids.shape[1]
        words = self.word_embeddings(input_ids)  # (b, s, e)
        positions = self.position_embeddings.weight[:seq_len]  # (s, e)
        types = self.token_type_embeddings(token_type_ids)  # (b, s, e)
        return self.dropout(self.LayerNorm(words + positions + types))  # (b, s, e)
