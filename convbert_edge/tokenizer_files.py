"""The files a ConvBERT tokenizer is read from: vocab.txt, tokenizer_config.json, tokenizer.json.

Everything that can be wrong with them is found here and raised as one TokenizerError
that names the file and the problem, before any tokenizer is built.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

from convbert_edge.errors import TokenizerError

VOCAB_NAME = "vocab.txt"
CONFIG_NAME = "tokenizer_config.json"
TOKENIZER_JSON_NAME = "tokenizer.json"
SPECIAL_TOKENS_MAP_NAME = "special_tokens_map.json"

# ConvBERT's max_position_embeddings: the length used when a caller asks for padding or
# truncation without max_length. transformers writes 1e30 for "unset"; such values are ignored.
DEFAULT_MODEL_MAX_LENGTH = 512
_UNSET_MAX_LENGTH_ABOVE = 1_000_000

# The tokens every ConvBERT input is built from; [MASK] only matters for MLM.
REQUIRED_SPECIAL = ("cls_token", "sep_token", "pad_token", "unk_token")


@dataclass(frozen=True)
class TokenizerSettings:
    """The options tokenizer_config.json may set; field names follow transformers.

    Args:
        do_lower_case: lower-case text before WordPiece (uncased vocabularies).
        strip_accents: drop accents; None means "same as do_lower_case".
        tokenize_chinese_chars: split CJK ideographs into single-character words.
        model_max_length: length used when padding/truncation is asked for without max_length.
        unk_token, sep_token, pad_token, cls_token, mask_token: the special tokens.

    Example:
        >>> TokenizerSettings(do_lower_case=False).strip_accents is None
        True
    """

    do_lower_case: bool = True
    strip_accents: bool | None = None
    tokenize_chinese_chars: bool = True
    model_max_length: int = DEFAULT_MODEL_MAX_LENGTH
    unk_token: str = "[UNK]"
    sep_token: str = "[SEP]"
    pad_token: str = "[PAD]"
    cls_token: str = "[CLS]"
    mask_token: str = "[MASK]"
    extra: dict = field(default_factory=dict, compare=False)

    def special_tokens(self) -> dict[str, str]:
        return {
            "unk_token": self.unk_token,
            "sep_token": self.sep_token,
            "pad_token": self.pad_token,
            "cls_token": self.cls_token,
            "mask_token": self.mask_token,
        }

    def to_json_dict(self) -> dict:
        """What save_pretrained writes to tokenizer_config.json (transformers reads it too)."""
        return {
            "tokenizer_class": "ConvBertTokenizer",
            "do_lower_case": self.do_lower_case,
            "strip_accents": self.strip_accents,
            "tokenize_chinese_chars": self.tokenize_chinese_chars,
            "model_max_length": self.model_max_length,
            "clean_up_tokenization_spaces": True,
            **self.special_tokens(),
        }


def default_vocab_path() -> Path:
    """The bert-base-uncased vocab.txt shipped in convbert_edge/assets (see assets/NOTICE)."""
    return Path(str(resources.files("convbert_edge") / "assets" / VOCAB_NAME))


def load_vocab(path: str | os.PathLike) -> dict[str, int]:
    """token -> id, one token a line, the id is the line number (as transformers reads it)."""
    path = Path(path)
    if not path.is_file():
        raise TokenizerError(
            f"no vocabulary file at {path}: pass a directory holding {VOCAB_NAME} or the path "
            "of a vocab.txt (one WordPiece token per line)"
        )
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
    except UnicodeDecodeError as err:
        raise TokenizerError(
            f"the vocabulary file {path} is not UTF-8 text (byte {err.object[err.start]:#04x} "
            f"at offset {err.start}): save it as UTF-8, one WordPiece token per line"
        ) from None
    vocab: dict[str, int] = {}
    for index, line in enumerate(lines):
        token = line.rstrip("\n")
        if token in vocab:
            # transformers keeps the later line's id and loses the earlier one, so the ids
            # run up to the line count while the vocabulary is one shorter: ids beyond the
            # model's embedding table, found only when a text uses the token.
            raise TokenizerError(
                f"the vocabulary file {path} has the token {token!r} twice, on lines "
                f"{vocab[token] + 1} and {index + 1}: a token's id is its line number, so "
                "every line must be a different token; remove one of the two lines (and "
                "check that the file is the vocabulary the model was trained with)"
            )
        vocab[token] = index
    if not vocab:
        raise TokenizerError(f"the vocabulary file {path} is empty")
    return vocab


def check_vocab_ids(vocab: dict[str, int], full_vocab: dict[str, int], source: str) -> None:
    """The ids of a loaded vocabulary must be exactly 0 .. len(vocab) - 1.

    vocab.txt guarantees this (load_vocab refuses duplicated lines); a tokenizer.json
    can break it with two tokens on one id, a gap, or added tokens past the vocabulary,
    and any of those lets the tokenizer emit an id >= vocab_size. ``full_vocab`` is the
    vocabulary with added tokens.
    """
    n = len(vocab)
    by_id: dict[int, str] = {}
    for token, i in sorted(vocab.items(), key=lambda kv: kv[1]):
        if i in by_id:
            raise TokenizerError(
                f"the vocabulary {source} gives the tokens {by_id[i]!r} and {token!r} the same "
                f"id {i}: every token needs its own id; fix or re-create the file"
            )
        if not 0 <= i < n:
            raise TokenizerError(
                f"the vocabulary {source} gives {token!r} the id {i}, outside 0..{n - 1} for "
                f"its {n} tokens (ids must run from 0 without gaps); fix or re-create the file"
            )
        by_id[i] = token
    beyond = sorted((i, t) for t, i in full_vocab.items() if t not in vocab and not 0 <= i < n)
    if beyond:
        i, token = beyond[0]
        raise TokenizerError(
            f"{source} adds {len(beyond)} token(s) past the vocabulary, e.g. {token!r} with id "
            f"{i} >= vocab_size {n}: the model has no embedding for them; put them in the "
            "vocabulary itself or remove them from added_tokens"
        )


def check_special_tokens(vocab: dict[str, int], settings: TokenizerSettings, source: str) -> None:
    """Every required special token must be a vocabulary entry; otherwise name the missing ones."""
    tokens = settings.special_tokens()
    missing = [f"{name}={tokens[name]!r}" for name in REQUIRED_SPECIAL if tokens[name] not in vocab]
    if missing:
        raise TokenizerError(
            f"the vocabulary {source} lacks the special token(s) {', '.join(missing)}: a ConvBERT "
            "vocabulary needs [CLS], [SEP], [PAD] and [UNK] (or tokenizer_config.json must name "
            "the tokens it uses instead)"
        )


def _token_text(value) -> str:
    # transformers writes special tokens either as a string or as a serialized AddedToken.
    if isinstance(value, dict):
        return str(value.get("content", ""))
    return str(value)


def read_settings(directory: str | os.PathLike | None, **overrides) -> TokenizerSettings:
    """Settings from directory/tokenizer_config.json (if any), then keyword overrides."""
    known = {f.name for f in fields(TokenizerSettings)} - {"extra"}
    values: dict = {}
    if directory is not None:
        config_path = Path(directory) / CONFIG_NAME
        if config_path.is_file():
            try:
                raw = json.loads(config_path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise TokenizerError(f"{config_path} is not valid JSON: {err}") from None
            if not isinstance(raw, dict):
                raise TokenizerError(f"{config_path} must hold a JSON object")
            values = {k: v for k, v in raw.items() if k in known}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TokenizerError(f"unknown tokenizer option(s) {unknown}; valid: {sorted(known)}")
    values.update(overrides)
    for name in ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token"):
        if name in values:
            values[name] = _token_text(values[name])
    where = f" (in {directory / CONFIG_NAME} or the keyword arguments)" if directory else ""
    for name, null_ok in _FLAGS.items():
        value = values.get(name)
        if not isinstance(value, bool) and not (value is None and (null_ok or name not in values)):
            raise TokenizerError(
                f"tokenizer option {name} must be true or false{' or null' if null_ok else ''}, "
                f"got {value!r}{where}"
            )
    max_len = values.get("model_max_length")
    if isinstance(max_len, float) and max_len > _UNSET_MAX_LENGTH_ABOVE:
        max_len = None  # transformers writes 1e30-ish floats as well as ints for "unset"
    if max_len is not None and (
        isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1
    ):
        raise TokenizerError(
            f"tokenizer option model_max_length must be a positive integer, got {max_len!r}{where}"
        )
    if max_len is None or max_len > _UNSET_MAX_LENGTH_ABOVE:
        values["model_max_length"] = DEFAULT_MODEL_MAX_LENGTH
    return TokenizerSettings(**values)


# tokenizer_config.json's boolean options -> whether null is allowed (strip_accents: null
# means "same as do_lower_case"). A string "false" would be truthy: refused, not guessed.
_FLAGS = {"do_lower_case": False, "tokenize_chinese_chars": False, "strip_accents": True}


def resolve_directory(directory: str | os.PathLike | None) -> tuple[Path | None, Path]:
    """(directory or None, vocab path) for from_pretrained; a vocab.txt path is accepted too."""
    if directory is None:
        return None, default_vocab_path()
    path = Path(directory)
    if path.is_file():
        return path.parent, path
    if not path.is_dir():
        raise TokenizerError(
            f"no tokenizer directory at {path}: pass a local directory holding {VOCAB_NAME} "
            "(and optionally tokenizer_config.json, tokenizer.json), or nothing for the "
            "shipped bert-base-uncased vocabulary"
        )
    return path, path / VOCAB_NAME


def checkpoint_vocab_dir(model_dir: str | os.PathLike | None) -> Path | None:
    """A checkpoint directory if it holds its own vocab.txt, else None (the shipped one).

    Checkpoints written without a tokenizer (transformers' save_pretrained of a model
    alone) are the public ConvBERT ones, trained on bert-base-uncased's vocabulary.
    """
    if model_dir is not None and (Path(model_dir) / VOCAB_NAME).is_file():
        return Path(model_dir)
    return None
