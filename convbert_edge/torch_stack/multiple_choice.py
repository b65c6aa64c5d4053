"""ConvBertForMultipleChoice: one score per (sequence, choice) pair."""

from __future__ import annotations

import torch
from torch import nn

from convbert_edge.config import ConvBertConfig
from convbert_edge.errors import ConfigError
from convbert_edge.tasks import Task
from convbert_edge.torch_stack.model import ConvBertModel
from convbert_edge.torch_stack.pretrained import ConvBertPreTrainedModel, example_inputs, token_at

# transformers' sequence-summary options this head does not build (none of the public
# configs sets them); a config that sets them is refused rather than silently ignored.
_UNSUPPORTED_SUMMARY_KEYS = ("summary_use_proj", "summary_activation")


class ConvBertSequenceSummary(nn.Module):
    """Pools (n, s, h) -> (n, h) by ``config.summary_type``.

    "last" (the default) takes the last position, padding included, as transformers does;
    "first" the first token; "mean" the mean over all positions, padding included.
    """

    def __init__(self, config: ConvBertConfig):
        super().__init__()
        for key in _UNSUPPORTED_SUMMARY_KEYS:
            if config.extra.get(key):
                raise ConfigError(
                    f"config sets {key}={config.extra[key]!r}, which ConvBertForMultipleChoice "
                    "does not implement: remove it from config.json"
                )
        self.summary_type = config.summary_type
        self.first_dropout = nn.Dropout(float(config.extra.get("summary_first_dropout", 0.0)))
        self.last_dropout = nn.Dropout(float(config.extra.get("summary_last_dropout", 0.0)))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.summary_type == "last":
            pooled = token_at(hidden, -1)  # (n, h)
        elif self.summary_type == "first":
            pooled = token_at(hidden, 0)  # (n, h)
        else:
            pooled = hidden.mean(dim=1)
        return self.last_dropout(self.first_dropout(pooled))


class ConvBertForMultipleChoice(ConvBertPreTrainedModel):
    """ConvBERT scoring each choice; inputs (b, choices, s), returns ``logits`` (b, choices).

    Example:
        >>> cfg = ConvBertConfig.preset("conv-bert-small", num_hidden_layers=2)
        >>> model = ConvBertForMultipleChoice(cfg).eval()
        >>> model(*model.example_inputs(1, 16, num_choices=4))["logits"].shape
        torch.Size([1, 4])
    """

    task = Task.MULTIPLE_CHOICE

    def __init__(self, config: ConvBertConfig):
        super().__init__(config)
        self.convbert = ConvBertModel(config)
        self.sequence_summary = ConvBertSequenceSummary(config)
        self.classifier = nn.Linear(config.hidden_size, 1)
        self.post_init()

    def example_inputs(
        self, batch: int = 1, seq_len: int = 128, num_choices: int = 2
    ) -> tuple[torch.Tensor, ...]:
        return example_inputs((batch, num_choices, seq_len), self.config.vocab_size)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        b, c, s = input_ids.shape
        hidden = self.convbert.encode(
            input_ids.reshape(b * c, s),
            attention_mask.reshape(b * c, s),
            token_type_ids.reshape(b * c, s),
        )  # (b*c, s, h)
        scores = self.classifier(self.sequence_summary(hidden))  # (b*c, 1)
        return {"logits": scores.reshape(b, c)}
