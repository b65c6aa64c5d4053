"""ConvBERT on Keras 3 (TensorFlow backend): the six task models, written for conversion.

The home of transformers' TFConvBert* classes now that transformers 5 dropped them.
Same inputs and output names as the PyTorch stack (convbert_edge.tasks); loads the same
Hugging Face checkpoints through one declarative name map (weights.py).

    >>> from convbert_edge.keras_stack import TFConvBertForSequenceClassification
    >>> model = TFConvBertForSequenceClassification.from_pretrained("path/to/checkpoint")
    >>> model({"input_ids": ids, "attention_mask": mask})["logits"]
    >>> exportable = model.build_for_export(batch_size=1, seq_len=128)  # static int32 inputs
"""

from convbert_edge.keras_stack.base import ConvBertKerasModel
from convbert_edge.keras_stack.tf_conv_bert_for_masked_lm import TFConvBertForMaskedLM
from convbert_edge.keras_stack.tf_conv_bert_for_multiple_choice import TFConvBertForMultipleChoice
from convbert_edge.keras_stack.tf_conv_bert_for_question_answering import (
    TFConvBertForQuestionAnswering,
)
from convbert_edge.keras_stack.tf_conv_bert_for_sequence_classification import (
    TFConvBertForSequenceClassification,
)
from convbert_edge.keras_stack.tf_conv_bert_for_token_classification import (
    TFConvBertForTokenClassification,
)
from convbert_edge.keras_stack.tf_conv_bert_model import TFConvBertModel
from convbert_edge.keras_stack.weights import convert_weights, name_map
from convbert_edge.tasks import Task

# One model class per task, for code that is handed a Task.
MODEL_CLASSES: dict[Task, type[ConvBertKerasModel]] = {
    Task.BASE: TFConvBertModel,
    Task.MASKED_LM: TFConvBertForMaskedLM,
    Task.SEQUENCE_CLASSIFICATION: TFConvBertForSequenceClassification,
    Task.MULTIPLE_CHOICE: TFConvBertForMultipleChoice,
    Task.TOKEN_CLASSIFICATION: TFConvBertForTokenClassification,
    Task.QUESTION_ANSWERING: TFConvBertForQuestionAnswering,
}


def model_class_for(task: Task | str) -> type[ConvBertKerasModel]:
    """The Keras model class of a task; an unknown task raises ValueError listing the valid ones."""
    return MODEL_CLASSES[Task.parse(task)]


__all__ = [
    "MODEL_CLASSES",
    "ConvBertKerasModel",
    "TFConvBertForMaskedLM",
    "TFConvBertForMultipleChoice",
    "TFConvBertForQuestionAnswering",
    "TFConvBertForSequenceClassification",
    "TFConvBertForTokenClassification",
    "TFConvBertModel",
    "convert_weights",
    "model_class_for",
    "name_map",
]
