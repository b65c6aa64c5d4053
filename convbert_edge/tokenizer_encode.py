"""Token ids -> model inputs: truncation, special tokens, padding, int32 arrays.

Shared by both tokenizers. The only behaviour that differs between them is how a pair
is cut under truncation="longest_first" (``pair_rule``): transformers' slow tokenizer
gives the odd token left over to the first segment, the `tokenizers` library gives it
to the longer one (the second on a tie). Each of our tokenizers follows its namesake.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral

import numpy as np

from convbert_edge.errors import TokenizerError

_PADDING = {
    True: "longest",
    "longest": "longest",
    "max_length": "max_length",
    False: None,
    None: None,
    "do_not_pad": None,
}
_TRUNCATION = {
    True: "longest_first",
    "longest_first": "longest_first",
    "only_first": "only_first",
    "only_second": "only_second",
    False: None,
    None: None,
    "do_not_truncate": None,
}
_TENSORS = (None, "np")


class BatchEncoding(dict):
    """The inputs of a model: a dict that also answers attribute access (``enc.input_ids``)."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _option(table: dict, value, what: str):
    try:
        return table[value]
    except (KeyError, TypeError):
        valid = ", ".join(repr(k) for k in table)
        raise TokenizerError(f"{what}={value!r} is not supported; use one of {valid}") from None


# UTF-16 surrogate code points: a str holds one alone only when bytes were decoded with
# errors="surrogateescape"/"surrogatepass" or built from broken UTF-16. No vocabulary has
# them; `tokenizers` cannot take such a str (a TypeError) and the slow tokenizer's
# Unicode tables class them as "Cs" and drop them, so the two would disagree silently.
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_text(text: str, what: str) -> None:
    """Refuse text both tokenizers cannot encode the same way: lone surrogates."""
    if not isinstance(text, str):
        raise TokenizerError(f"{what} is a {type(text).__name__}, expected a string")
    bad = _SURROGATE.search(text)
    if bad is not None:
        raise TokenizerError(
            f"{what} holds the lone surrogate U+{ord(bad.group()):04X} at character "
            f"{bad.start()}, which is not valid Unicode text: decode the source bytes with "
            "their real encoding (or errors='replace'), or drop the character, before "
            "tokenizing"
        )


def _as_texts(value, what: str) -> list[str]:
    texts = list(value)
    for i, t in enumerate(texts):
        check_text(t, f"{what}[{i}]")
    return texts


@dataclass(frozen=True)
class EncodeRequest:
    """One __call__'s arguments, checked and normalised."""

    texts: list[str]
    pairs: list[str] | None
    batched: bool
    add_special_tokens: bool
    padding: str | None  # "max_length", "longest" or None
    truncation: str | None  # "longest_first", "only_first", "only_second" or None
    max_length: int | None
    return_tensors: str | None

    @classmethod
    def from_kwargs(
        cls,
        *,
        text,
        text_pair,
        add_special_tokens,
        padding,
        truncation,
        max_length,
        return_tensors,
        model_max_length,
        unsupported,
        empty_pair_is_none=False,
    ) -> EncodeRequest:
        if unsupported:
            raise TokenizerError(
                f"unsupported keyword argument(s) {sorted(unsupported)}; this tokenizer takes "
                "text, text_pair, add_special_tokens, padding, truncation, max_length, "
                "return_tensors, return_token_type_ids, return_attention_mask, "
                "return_special_tokens_mask, return_length"
            )
        if text is None:
            raise TokenizerError("no text given: pass a string or a list of strings")
        pad = _option(_PADDING, padding, "padding")
        trunc = _option(_TRUNCATION, truncation, "truncation")
        if return_tensors not in _TENSORS:
            raise TokenizerError(
                f"return_tensors={return_tensors!r} is not supported; use 'np' (int32 arrays) "
                "or None (lists)"
            )
        batched = not isinstance(text, str)
        if batched:
            texts = _as_texts(text, "text")
            if not texts:
                raise TokenizerError("empty batch: pass at least one text")
            pairs = None
            if text_pair is not None:
                if isinstance(text_pair, str):
                    raise TokenizerError("text is a batch, so text_pair must be a list too")
                pairs = _as_texts(text_pair, "text_pair")
                if len(pairs) != len(texts):
                    raise TokenizerError(
                        f"text has {len(texts)} entries but text_pair has {len(pairs)}"
                    )
        else:
            check_text(text, "text")
            texts = [text]
            if empty_pair_is_none and text_pair == "":
                text_pair = None
            if text_pair is not None and not isinstance(text_pair, str):
                raise TokenizerError("text is a single string, so text_pair must be one too")
            if text_pair is not None:
                check_text(text_pair, "text_pair")
            pairs = None if text_pair is None else [text_pair]
        if max_length is None and (pad == "max_length" or trunc is not None):
            max_length = model_max_length
        if max_length is not None and (not isinstance(max_length, Integral) or max_length < 1):
            raise TokenizerError(f"max_length must be a positive int, got {max_length!r}")
        return cls(
            texts, pairs, batched, add_special_tokens, pad, trunc, max_length, return_tensors
        )


def _longest_first_python(n0: int, n1: int, remove: int) -> tuple[int, int]:
    """Tokens removed from each segment: transformers' slow truncate_sequences."""
    first = min(abs(n1 - n0), remove)
    second = remove - first
    if n0 > n1:
        return first + second // 2, second - second // 2
    return second // 2, first + second - second // 2


def _longest_first_tokenizers(n0: int, n1: int, budget: int) -> tuple[int, int]:
    """Tokens removed from each segment: `tokenizers`' truncate_encodings (Rust)."""
    short = min(n0, n1)
    long_keep = short if short > budget else max(short, budget - short)
    short_keep = short
    if short_keep + long_keep > budget:
        short_keep, long_keep = budget // 2, budget // 2 + budget % 2
    keep0, keep1 = (long_keep, short_keep) if n0 > n1 else (short_keep, long_keep)
    return max(n0 - keep0, 0), max(n1 - keep1, 0)


def _truncate(
    a: list[int],
    b: list[int] | None,
    req: EncodeRequest,
    n_special: int,
    pair_rule: str,
    index: int,
) -> tuple[list[int], list[int] | None]:
    total = len(a) + (len(b) if b is not None else 0) + n_special
    if req.truncation is None or total <= req.max_length:
        return a, b
    budget = req.max_length - n_special
    if budget < 0:
        raise TokenizerError(
            f"max_length={req.max_length} leaves no room for the {n_special} special tokens"
        )
    remove = total - req.max_length
    strategy = req.truncation
    if b is None and strategy == "only_second":
        raise TokenizerError(
            f"text {index} is too long and truncation='only_second' needs a text_pair to cut"
        )
    if b is None or strategy == "only_first":
        # A single text is cut only if something is left of it (as transformers' slow
        # tokenizer; `tokenizers` agrees except at budget 0, where it returns no tokens).
        if len(a) > remove or (
            pair_rule == "tokenizers" and b is None and strategy == "longest_first"
        ):
            return a[: len(a) - remove], b
        if b is None and strategy == "longest_first":
            raise TokenizerError(
                f"text {index}: max_length={req.max_length} leaves no room for any of its "
                f"{len(a)} tokens beside the special tokens; use a larger max_length"
            )
        raise TokenizerError(
            f"text {index}: the first segment has {len(a)} tokens, too few to remove {remove} "
            f"with truncation={strategy!r}; use 'longest_first' or a larger max_length"
        )
    if strategy == "only_second":
        if len(b) > remove:
            return a, b[: len(b) - remove]
        raise TokenizerError(
            f"text {index}: the second segment has {len(b)} tokens, too few to remove {remove} "
            "with truncation='only_second'; use 'longest_first' or a larger max_length"
        )
    if pair_rule == "python":
        r0, r1 = _longest_first_python(len(a), len(b), remove)
    else:
        r0, r1 = _longest_first_tokenizers(len(a), len(b), budget)
    return a[: len(a) - r0], b[: len(b) - r1]


def assemble(
    req: EncodeRequest,
    ids0: list[list[int]],
    ids1: list[list[int]] | None,
    *,
    cls_id: int,
    sep_id: int,
    pad_id: int,
    pair_rule: str,
    return_token_type_ids: bool,
    return_attention_mask: bool,
    return_special_tokens_mask: bool,
    return_length: bool,
) -> BatchEncoding:
    """Truncate, add [CLS]/[SEP], pad and stack; refuse anything longer than max_length."""
    rows_ids, rows_types, rows_special = [], [], []
    for i, a in enumerate(ids0):
        b = ids1[i] if ids1 is not None else None
        n_special = (2 if b is None else 3) if req.add_special_tokens else 0
        a, b = _truncate(a, b, req, n_special, pair_rule, i)
        if req.add_special_tokens:
            ids = [cls_id, *a, sep_id]
            types = [0] * (len(a) + 2)
            special = [1] + [0] * len(a) + [1]
            if b is not None:
                ids += [*b, sep_id]
                types += [1] * (len(b) + 1)
                special += [0] * len(b) + [1]
        else:
            ids = a + (b or [])
            types = [0] * len(a) + [1] * len(b or [])
            special = [0] * len(ids)
        if req.max_length is not None and len(ids) > req.max_length:
            # Static shapes: a longer row would not be what the exported model was built for.
            raise TokenizerError(
                f"text {i} is {len(ids)} tokens long, more than max_length={req.max_length}; "
                "pass truncation=True (or 'only_first'/'only_second') or a larger max_length"
            )
        rows_ids.append(ids)
        rows_types.append(types)
        rows_special.append(special)
    lengths = [len(r) for r in rows_ids]
    if req.padding == "max_length":
        width = req.max_length
    elif req.padding == "longest":
        width = max(lengths)
    else:
        width = None
    if width is None and req.return_tensors == "np" and len(set(lengths)) > 1:
        raise TokenizerError(
            "texts of different lengths cannot be stacked into one array: pass "
            "padding='max_length' with max_length (static shape) or padding=True"
        )
    columns = {"input_ids": (rows_ids, pad_id)}
    if return_token_type_ids:
        columns["token_type_ids"] = (rows_types, 0)
    if return_attention_mask:
        columns["attention_mask"] = ([[1] * n for n in lengths], 0)
    if return_special_tokens_mask:
        columns["special_tokens_mask"] = (rows_special, 1)
    out = BatchEncoding()
    for name, (rows, fill) in columns.items():
        out[name] = _stack(rows, lengths, width, fill, req)
    if return_length:
        out["length"] = np.asarray(lengths, np.int32) if req.return_tensors else lengths
        if not req.batched and req.return_tensors is None:
            out["length"] = lengths[0]
    return out


def _stack(
    rows: Sequence[list[int]], lengths: list[int], width: int | None, fill: int, req: EncodeRequest
):
    if req.return_tensors == "np":
        w = width if width is not None else lengths[0]
        arr = np.full((len(rows), w), fill, dtype=np.int32)  # (batch, length)
        for r, (row, n) in enumerate(zip(rows, lengths, strict=True)):
            arr[r, :n] = row
        return arr
    padded = [
        row + [fill] * (width - n) if width else row for row, n in zip(rows, lengths, strict=True)
    ]
    return padded if req.batched else padded[0]
