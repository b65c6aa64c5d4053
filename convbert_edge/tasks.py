"""The six model heads, named once for every stack, exporter and CLI."""

from __future__ import annotations

from enum import Enum


class Task(str, Enum):
    BASE = "base"
    MASKED_LM = "masked-lm"
    SEQUENCE_CLASSIFICATION = "sequence-classification"
    MULTIPLE_CHOICE = "multiple-choice"
    TOKEN_CLASSIFICATION = "token-classification"
    QUESTION_ANSWERING = "question-answering"

    @classmethod
    def parse(cls, value: str | Task) -> Task:
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(t.value for t in cls)
            raise ValueError(f"unknown task {value!r}; choose one of {valid}") from None


# Output names per task, as transformers names them.
OUTPUT_NAMES: dict[Task, tuple[str, ...]] = {
    Task.BASE: ("last_hidden_state",),
    Task.MASKED_LM: ("logits",),
    Task.SEQUENCE_CLASSIFICATION: ("logits",),
    Task.MULTIPLE_CHOICE: ("logits",),
    Task.TOKEN_CLASSIFICATION: ("logits",),
    Task.QUESTION_ANSWERING: ("start_logits", "end_logits"),
}

# The model inputs, in the order both stacks' forward() takes them and every artifact
# declares them: the only spelling of this list (a TFLite calibration feed, an ExecuTorch
# positional call and the golden bundle all read it).
INPUT_NAMES: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids")

# The transformers class (config.json "architectures") of each task's checkpoints.
HF_ARCHITECTURES: dict[Task, str] = {
    Task.BASE: "ConvBertModel",
    Task.MASKED_LM: "ConvBertForMaskedLM",
    Task.SEQUENCE_CLASSIFICATION: "ConvBertForSequenceClassification",
    Task.MULTIPLE_CHOICE: "ConvBertForMultipleChoice",
    Task.TOKEN_CLASSIFICATION: "ConvBertForTokenClassification",
    Task.QUESTION_ANSWERING: "ConvBertForQuestionAnswering",
}
