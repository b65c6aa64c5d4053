"""ConvBertConfig: model hyper-parameters, read from and written to Hugging Face config.json."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convbert_edge.config_fields import (
    FIELD_RULES,
    NUM_LABELS_RULE,
    SUMMARY_TYPES,  # noqa: F401  (re-exported: the stacks import it from here)
    SUPPORTED_ACTIVATIONS,  # noqa: F401
    field_problem,
    id2label_from_label2id,
    parse_id2label,
)
from convbert_edge.errors import ConfigError
from convbert_edge.io_utils import atomic_write_text

CONFIG_NAME = "config.json"
MODEL_TYPE = "convbert"

# Both stacks' attention (mask_scores) push masked keys this far below a row's lowest
# score: their softmax weight is then below e^-30 (1e-13) of any real key's, which is the
# reference's zero to float precision, while the sum's range stays small enough for int8
# (the reference's finfo(float32).min would put every real score in one quantization step).
MASK_MARGIN = 30.0


# The three public checkpoints' shapes (YituTech/conv-bert-*); all use the 30522-token
# uncased WordPiece vocabulary, kernel 9, head_ratio 2 and pad_token_id 0.
PRESETS: dict[str, dict[str, Any]] = {
    "conv-bert-small": dict(
        hidden_size=256,
        num_hidden_layers=12,
        num_attention_heads=4,
        intermediate_size=1024,
        embedding_size=128,
        num_groups=1,
    ),
    "conv-bert-medium-small": dict(
        hidden_size=384,
        num_hidden_layers=12,
        num_attention_heads=8,
        intermediate_size=1536,
        embedding_size=128,
        num_groups=2,
    ),
    "conv-bert-base": dict(
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        embedding_size=768,
        num_groups=1,
    ),
}
_PRESET_COMMON = dict(vocab_size=30522, conv_kernel_size=9, head_ratio=2, pad_token_id=0)


def _default_id2label() -> dict[int, str]:
    return {0: "LABEL_0", 1: "LABEL_1"}


@dataclass
class ConvBertConfig:
    """Hyper-parameters of a ConvBERT model, field for field as transformers' ConvBertConfig.

    Defaults are transformers' defaults, so a config.json written with only the
    non-default values (as transformers does) reads back to the same model. Keys this
    class does not know are kept in ``extra`` and written back unchanged.

    Args:
        vocab_size .. classifier_dropout: as in transformers.ConvBertConfig.
        id2label: class index -> name for the classification heads; its length is num_labels.
        summary_type: how ConvBertForMultipleChoice pools a sequence ("last" by default,
            the last position, padding included, as the reference does).
        extra: every other key of config.json, kept verbatim.

    Example:
        >>> cfg = ConvBertConfig.preset("conv-bert-small", num_hidden_layers=2)
        >>> cfg.attention_heads, cfg.attention_head_size
        (2, 64)
    """

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int | None = 1
    bos_token_id: int | None = 0
    eos_token_id: int | None = 2
    embedding_size: int = 768
    head_ratio: int = 2
    conv_kernel_size: int = 9
    num_groups: int = 1
    classifier_dropout: float | None = None
    id2label: dict[int, str] = field(default_factory=_default_id2label)
    summary_type: str = "last"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.id2label = parse_id2label(self.id2label)
        if not isinstance(self.extra, dict):
            raise ConfigError(f"extra must be a dict, got {type(self.extra).__name__}")
        self.validate()

    # ----------------------------------------------------------------- derived shapes
    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @property
    def label2id(self) -> dict[str, int]:
        return {v: k for k, v in self.id2label.items()}

    @property
    def attention_heads(self) -> int:
        """Heads of the self-attention half (the reference's rule: at least one)."""
        return max(self.num_attention_heads // self.head_ratio, 1)

    @property
    def attention_head_size(self) -> int:
        """Width of one head of either half: the other half is the dynamic convolution."""
        return (self.hidden_size // self.attention_heads) // 2

    @property
    def all_head_size(self) -> int:
        return self.attention_heads * self.attention_head_size

    def validate(self) -> None:
        """Raise ConfigError naming every field whose type or range is wrong (FIELD_RULES),
        else the first cross-field rule no model can be built with."""
        problems = [
            p
            for name, rule in FIELD_RULES.items()
            if (p := field_problem(name, getattr(self, name), rule)) is not None
        ]
        if problems:
            raise ConfigError("; ".join(problems))
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(
                f"hidden_size ({self.hidden_size}) is not divisible by num_attention_heads "
                f"({self.num_attention_heads})"
            )
        if 2 * self.all_head_size != self.hidden_size:
            raise ConfigError(
                f"hidden_size ({self.hidden_size}) must split into {self.attention_heads} "
                f"attention heads (num_attention_heads // head_ratio) of even width: "
                f"choose sizes with hidden_size divisible by {2 * self.attention_heads}"
            )
        if self.conv_kernel_size % 2 == 0:
            raise ConfigError(
                f"conv_kernel_size must be odd so the convolution keeps the sequence length, "
                f"got {self.conv_kernel_size}"
            )
        for name in ("hidden_size", "intermediate_size"):
            if getattr(self, name) % self.num_groups:
                raise ConfigError(
                    f"num_groups ({self.num_groups}) does not divide {name} ({getattr(self, name)})"
                )

    # ----------------------------------------------------------------- constructors
    @classmethod
    def preset(cls, name: str, **overrides: Any) -> ConvBertConfig:
        """The shape of a public checkpoint, e.g. ``preset("conv-bert-small")``."""
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        return cls(**{**_PRESET_COMMON, **PRESETS[name], **overrides})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConvBertConfig:
        """A config from config.json's keys, as transformers reads them (id2label, else
        label2id, else num_labels); every value is checked against FIELD_RULES."""
        if not isinstance(data, dict):
            raise ConfigError(f"a config must be a JSON object, got {type(data).__name__}")
        data = dict(data)
        model_type = data.pop("model_type", MODEL_TYPE)
        if model_type != MODEL_TYPE:
            raise ConfigError(
                f"config.json is for model_type {model_type!r}, not {MODEL_TYPE!r}: "
                "point at a ConvBERT checkpoint"
            )
        known = {f.name for f in dataclasses.fields(cls)} - {"extra", "id2label"}
        kwargs = {k: data.pop(k) for k in list(data) if k in known}
        id2label = data.pop("id2label", None)
        label2id = data.pop("label2id", None)
        num_labels = data.pop("num_labels", None)
        if num_labels is not None and (
            problem := field_problem("num_labels", num_labels, NUM_LABELS_RULE)
        ):
            raise ConfigError(problem)
        if id2label is None and label2id is not None:
            id2label = id2label_from_label2id(label2id)
        if id2label is None and num_labels is not None:
            id2label = {i: f"LABEL_{i}" for i in range(num_labels)}
        if id2label is not None:
            kwargs["id2label"] = id2label
        extra = data.pop("extra", None) or {}
        if not isinstance(extra, dict):
            raise ConfigError(f"extra must be a JSON object, got {type(extra).__name__}")
        extra = {**extra, **data}
        return cls(**kwargs, extra=extra)

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> ConvBertConfig:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"no config file at {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"{path} is not valid JSON: {err}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must hold a JSON object")
        try:
            return cls.from_dict(data)
        except TypeError as err:
            raise ConfigError(f"{path}: {err}") from None
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from None

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> ConvBertConfig:
        """Read ``config.json`` from a checkpoint directory (or the file itself)."""
        path = Path(directory)
        return cls.from_json_file(path / CONFIG_NAME if path.is_dir() else path)

    # ----------------------------------------------------------------- writers
    def to_dict(self) -> dict[str, Any]:
        """Every field, in the key order and spelling of transformers' config.json."""
        data: dict[str, Any] = dict(self.extra)
        for f in dataclasses.fields(self):
            if f.name in ("extra", "id2label", "summary_type"):
                continue
            data[f.name] = getattr(self, f.name)
        data["id2label"] = {str(k): v for k, v in sorted(self.id2label.items())}
        data["label2id"] = {v: k for k, v in sorted(self.id2label.items())}
        if self.summary_type != "last":
            data["summary_type"] = self.summary_type
        data["model_type"] = MODEL_TYPE
        return data

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json`` into ``directory`` (created if needed); returns its path."""
        path = Path(directory) / CONFIG_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, self.to_json_string())
        return path

    def replace(self, **changes: Any) -> ConvBertConfig:
        """A copy with some fields changed (validated like a new config)."""
        return dataclasses.replace(self, **changes)
