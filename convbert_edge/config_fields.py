"""What each ConvBertConfig field may hold, as one table, and the checks of id2label.

ConvBertConfig.validate runs FIELD_RULES before its cross-field rules, so a config.json
with a quoted number, a boolean for an int, NaN or inf, or an id2label list is refused
with the field, the value and what it must be, instead of failing later inside a stack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral
from typing import Any

from convbert_edge.errors import ConfigError

# Activations both stacks implement; the names are transformers' ACT2FN keys.
SUPPORTED_ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu", "swish", "tanh")
SUMMARY_TYPES = ("last", "first", "mean")

# A classification head with more classes than this is a mistake in config.json (and a
# dict of that many names would take minutes and gigabytes to build).
MAX_LABELS = 1_000_000


def _number(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


@dataclass(frozen=True)
class FieldRule:
    """What one config field may hold: its type, range and (for strings) its choices.

    Booleans never count as numbers (JSON true is not 1), strings never as numbers
    ("0.1" is refused, not parsed: a config.json that quotes a number was written wrong),
    and a float field takes ints but only finite values (NaN compares false with every
    bound, so without the check a NaN layer_norm_eps would pass).
    """

    kind: type  # int, float or str
    low: float | None = None
    low_inclusive: bool = True
    high: float | None = None
    high_inclusive: bool = True
    optional: bool = False  # None (JSON null) allowed
    choices: tuple[str, ...] = ()

    @property
    def expected(self) -> str:
        """What the value must be, in words: "an integer >= 1", "a number in [0, 1)"."""
        kind = {int: "an integer", float: "a finite number", str: "a string"}[self.kind]
        low = self.low
        if self.kind is int and (self.low, self.low_inclusive, self.high) == (1, True, None):
            kind, low = "a positive integer", None
        if self.choices:
            kind = f"one of {', '.join(self.choices)}"
        if low is not None and self.high is not None:
            kind += (
                f" in {'[' if self.low_inclusive else '('}{_number(self.low)}, "
                f"{_number(self.high)}{']' if self.high_inclusive else ')'}"
            )
        elif low is not None:
            kind += f" {'>=' if self.low_inclusive else '>'} {_number(self.low)}"
        return kind + (" or null" if self.optional else "")

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.optional
        if isinstance(value, bool):
            return False
        if self.kind is str:
            return isinstance(value, str) and (not self.choices or value in self.choices)
        if self.kind is int and not isinstance(value, int):
            return False
        if self.kind is float:
            if not isinstance(value, (int, float)):
                return False
            if isinstance(value, float) and not math.isfinite(value):
                return False
        if self.low is not None and not (
            value >= self.low if self.low_inclusive else value > self.low
        ):
            return False
        if self.high is None:
            return True
        return value <= self.high if self.high_inclusive else value < self.high


_POSITIVE_INT = FieldRule(int, low=1)
_PROBABILITY = FieldRule(float, low=0.0, high=1.0, high_inclusive=False)
_TOKEN_ID = FieldRule(int, optional=True)  # out-of-range pad ids are no padding_idx, as in HF

# Every scalar field of ConvBertConfig and what it may hold (id2label and extra are
# checked on their own). Cross-field rules (divisibility, odd kernel) follow in validate().
FIELD_RULES: dict[str, FieldRule] = {
    "vocab_size": _POSITIVE_INT,
    "hidden_size": _POSITIVE_INT,
    "num_hidden_layers": _POSITIVE_INT,
    "num_attention_heads": _POSITIVE_INT,
    "intermediate_size": _POSITIVE_INT,
    "hidden_act": FieldRule(str, choices=SUPPORTED_ACTIVATIONS),
    "hidden_dropout_prob": _PROBABILITY,
    "attention_probs_dropout_prob": _PROBABILITY,
    "max_position_embeddings": _POSITIVE_INT,
    "type_vocab_size": _POSITIVE_INT,
    "initializer_range": FieldRule(float, low=0.0),
    "layer_norm_eps": FieldRule(float, low=0.0, low_inclusive=False),
    "pad_token_id": _TOKEN_ID,
    "bos_token_id": _TOKEN_ID,
    "eos_token_id": _TOKEN_ID,
    "embedding_size": _POSITIVE_INT,
    "head_ratio": _POSITIVE_INT,
    "conv_kernel_size": _POSITIVE_INT,
    "num_groups": _POSITIVE_INT,
    "classifier_dropout": FieldRule(float, low=0.0, high=1.0, high_inclusive=False, optional=True),
    "summary_type": FieldRule(str, choices=SUMMARY_TYPES),
}
# Keys of config.json read by from_dict that are not dataclass fields.
NUM_LABELS_RULE = FieldRule(int, low=1, high=MAX_LABELS)


def field_problem(name: str, value: Any, rule: FieldRule) -> str | None:
    """None if ``value`` fits ``rule``, else a sentence naming the field, value and rule."""
    if rule.accepts(value):
        return None
    if rule.choices and isinstance(value, str):
        return f"{name} {value!r} is not supported; choose one of {', '.join(rule.choices)}"
    return f"{name} must be {rule.expected}, got {value!r} ({type(value).__name__})"


def _label_index(key: Any, field_name: str) -> int:
    # JSON object keys are strings: "0" is class 0, as transformers reads it.
    if isinstance(key, Integral) and not isinstance(key, bool):
        return int(key)
    if isinstance(key, str):
        try:
            return int(key)
        except ValueError:
            pass
    raise ConfigError(
        f"{field_name} has the key {key!r:.80}, not a class index: keys must be integers "
        '0, 1, ... (written "0", "1", ... in config.json)'
    )


def parse_id2label(value: Any, field_name: str = "id2label") -> dict[int, str]:
    """A checked id2label: class index 0..n-1 -> name (an int name is turned into text)."""
    if not isinstance(value, dict):
        raise ConfigError(
            f"{field_name} must be a JSON object mapping class index to name, e.g. "
            f'{{"0": "negative", "1": "positive"}}; got {type(value).__name__} {value!r:.80}'
        )
    out: dict[int, str] = {}
    for key, name in value.items():
        index = _label_index(key, field_name)
        if isinstance(name, bool) or not isinstance(name, (str, int)):
            raise ConfigError(
                f"{field_name}[{key!r}] must be the class name (a string), got {name!r:.80} "
                f"({type(name).__name__})"
            )
        if index in out:
            raise ConfigError(f"{field_name} names class {index} twice: {out[index]!r}, {name!r}")
        out[index] = str(name)
    if not out:
        raise ConfigError(f"{field_name} must name at least one label")
    if len(out) > MAX_LABELS:
        raise ConfigError(f"{field_name} names {len(out)} labels; at most {MAX_LABELS} are allowed")
    if set(out) != set(range(len(out))):
        raise ConfigError(
            f"{field_name} has the class indices {sorted(out)[:10]}: the {len(out)} classes a "
            f"head outputs are numbered 0..{len(out) - 1}, so those must be the keys"
        )
    return dict(sorted(out.items()))


def id2label_from_label2id(value: Any) -> dict[int, str]:
    if not isinstance(value, dict):
        raise ConfigError(
            f"label2id must be a JSON object mapping name to class index, got "
            f"{type(value).__name__} {value!r:.80}"
        )
    flipped: dict = {}
    for name, index in value.items():
        if isinstance(index, bool) or not isinstance(index, (int, str)):
            raise ConfigError(
                f"label2id[{name!r}] must be a class index (an integer), got {index!r:.80}"
            )
        key = _label_index(index, f"label2id[{name!r}]")
        if key in flipped:
            raise ConfigError(f"label2id gives class {key} two names: {flipped[key]!r}, {name!r}")
        flipped[key] = name
    return parse_id2label(flipped, "label2id (as id2label)")
