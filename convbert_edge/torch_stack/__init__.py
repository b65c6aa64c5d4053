"""The PyTorch stack: ConvBERT written for export (static shapes, no gather in the convolution).

Class names are transformers'; every ``forward(input_ids, attention_mask, token_type_ids)``
returns a dict keyed by ``convbert_edge.tasks.OUTPUT_NAMES[model.task]``.
"""

from __future__ import annotations

from convbert_edge.tasks import Task
from convbert_edge.torch_stack.masked_lm import ConvBertForMaskedLM
from convbert_edge.torch_stack.model import ConvBertModel
from convbert_edge.torch_stack.multiple_choice import ConvBertForMultipleChoice
from convbert_edge.torch_stack.pretrained import ConvBertPreTrainedModel
from convbert_edge.torch_stack.question_answering import ConvBertForQuestionAnswering
from convbert_edge.torch_stack.sequence_classification import ConvBertForSequenceClassification
from convbert_edge.torch_stack.token_classification import ConvBertForTokenClassification

MODEL_CLASSES: dict[Task, type[ConvBertPreTrainedModel]] = {
    Task.BASE: ConvBertModel,
    Task.MASKED_LM: ConvBertForMaskedLM,
    Task.SEQUENCE_CLASSIFICATION: ConvBertForSequenceClassification,
    Task.MULTIPLE_CHOICE: ConvBertForMultipleChoice,
    Task.TOKEN_CLASSIFICATION: ConvBertForTokenClassification,
    Task.QUESTION_ANSWERING: ConvBertForQuestionAnswering,
}


def model_class(task: Task | str) -> type[ConvBertPreTrainedModel]:
    """The model class for a task (a Task or its string value)."""
    return MODEL_CLASSES[Task.parse(task)]


__all__ = [
    "MODEL_CLASSES",
    "ConvBertForMaskedLM",
    "ConvBertForMultipleChoice",
    "ConvBertForQuestionAnswering",
    "ConvBertForSequenceClassification",
    "ConvBertForTokenClassification",
    "ConvBertModel",
    "ConvBertPreTrainedModel",
    "model_class",
]
