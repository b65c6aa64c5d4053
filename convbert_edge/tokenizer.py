"""ConvBERT tokenizers with transformers' API, built on the `tokenizers` library.

Two classes, each a drop-in for its transformers 4.57 namesake on the same vocabulary:

- ``ConvBertTokenizerFast``: the `tokenizers` BertNormalizer -> BertPreTokenizer ->
  WordPiece pipeline, the one transformers' fast tokenizer runs.
- ``ConvBertTokenizer``: words split in Python by ``tokenizer_basic.BasicSplitter`` (the
  slow BasicTokenizer's rules and Unicode tables), then the same `tokenizers` WordPiece.

``__call__`` returns int32 numpy arrays of a shape the caller fixes (padding="max_length"):
the device must see exactly the inputs the fp32 reference saw, so input that does not fit
``max_length`` is refused with a TokenizerError instead of coming back longer.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from tokenizers import (
    AddedToken,
    Tokenizer,
    decoders,
    normalizers,
    pre_tokenizers,
    processors,
)

from convbert_edge.errors import TokenizerError
from convbert_edge.io_utils import atomic_write_text
from convbert_edge.tokenizer_base import ConvBertTokenizerBase
from convbert_edge.tokenizer_basic import BasicSplitter
from convbert_edge.tokenizer_encode import BatchEncoding, check_text
from convbert_edge.tokenizer_files import TOKENIZER_JSON_NAME, checkpoint_vocab_dir

__all__ = [
    "BatchEncoding",
    "ConvBertTokenizer",
    "ConvBertTokenizerFast",
    "checkpoint_tokenizer",
]


class ConvBertTokenizer(ConvBertTokenizerBase):
    """transformers' slow ConvBertTokenizer, token for token, on the `tokenizers` WordPiece.

    Words are split in Python with the slow tokenizer's rules (its Unicode tables, NFC,
    per-character lower-casing); pairs are truncated by its longest_first rule.

    Args:
        vocab_file: a vocab.txt; None uses the shipped bert-base-uncased vocabulary.
        do_lower_case: lower-case text (uncased vocabularies).
        strip_accents: drop accents; None means "same as do_lower_case".
        tokenize_chinese_chars: split CJK ideographs into single characters.
        model_max_length: length used when padding/truncation is asked for without max_length.
        unk_token, sep_token, pad_token, cls_token, mask_token: the special tokens.

    Example:
        >>> tok = ConvBertTokenizer.from_pretrained()
        >>> enc = tok(["a fine film"], padding="max_length", max_length=8, return_tensors="np")
        >>> enc["input_ids"].shape, enc["input_ids"].dtype
        ((1, 8), dtype('int32'))
    """

    _pair_rule = "python"

    def _load_backend(self, vocab_file, tokenizer_file) -> Tokenizer:
        del tokenizer_file  # the slow tokenizer reads vocab.txt only, as transformers' does
        s = self.settings
        specials = frozenset(s.special_tokens().values())
        self._splitter = BasicSplitter(
            do_lower_case=s.do_lower_case,
            strip_accents=s.strip_accents,
            tokenize_chinese_chars=s.tokenize_chinese_chars,
            never_split=specials,
        )
        # Special tokens written in the text stay whole: cut them out before lower-casing.
        alternatives = sorted(specials, key=len, reverse=True)
        self._special_split = re.compile("(" + "|".join(map(re.escape, alternatives)) + ")")
        # Words arrive pre-split, so the backend is WordPiece alone.
        return Tokenizer(self._wordpiece_model(vocab_file))

    def _words(self, text: str) -> list[str]:
        words: list[str] = []
        for i, piece in enumerate(self._special_split.split(text)):
            if i % 2:  # re.split puts the captured special tokens at odd positions
                words.append(piece)
            elif piece:
                words.extend(self._splitter.split(piece))
        return words

    def _encode_texts(self, texts: Sequence[str]) -> list[list[int]]:
        batch = [self._words(t) for t in texts]
        encs = self._backend.encode_batch(batch, is_pretokenized=True, add_special_tokens=False)
        return [e.ids for e in encs]


class ConvBertTokenizerFast(ConvBertTokenizerBase):
    """transformers' ConvBertTokenizerFast, token for token: the `tokenizers` BERT pipeline.

    Built from vocab.txt (as transformers converts it), or from tokenizer.json when the
    directory has one, with the normalizer options of tokenizer_config.json applied on top.

    Args:
        vocab_file: a vocab.txt; None uses the shipped bert-base-uncased vocabulary.
        tokenizer_file: a tokenizer.json to load instead of building from vocab_file.
        do_lower_case, strip_accents, tokenize_chinese_chars, model_max_length, and the
            special tokens: as for ConvBertTokenizer.

    Example:
        >>> tok = ConvBertTokenizerFast.from_pretrained()
        >>> tok.tokenize("Unaffable!")
        ['una', '##ffa', '##ble', '!']
    """

    _pair_rule = "tokenizers"
    # Its namesake encodes tok("text", "") like tok("text"), though not inside a batch.
    _empty_single_pair_is_none = True

    def _load_backend(self, vocab_file, tokenizer_file) -> Tokenizer:
        s = self.settings
        if tokenizer_file is not None:
            try:
                backend = Tokenizer.from_file(str(tokenizer_file))
            except Exception as err:  # tokenizers raises a bare Exception on bad JSON
                raise TokenizerError(f"cannot read {tokenizer_file}: {err}") from None
            backend.no_truncation()
            backend.no_padding()
        else:
            backend = Tokenizer(self._wordpiece_model(vocab_file))
            backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
            backend.decoder = decoders.WordPiece(prefix="##")
        # As transformers does: tokenizer_config.json's options override the normalizer.
        backend.normalizer = normalizers.BertNormalizer(
            clean_text=True,
            handle_chinese_chars=s.tokenize_chinese_chars,
            strip_accents=s.strip_accents,
            lowercase=s.do_lower_case,
        )
        specials = [t for t in s.special_tokens().values() if backend.token_to_id(t) is not None]
        backend.add_special_tokens(
            [AddedToken(t, special=True, normalized=False) for t in specials]
        )
        cls, sep = s.cls_token, s.sep_token
        if backend.token_to_id(cls) is not None and backend.token_to_id(sep) is not None:
            # Only used by whoever loads a saved tokenizer.json; __call__ adds its own.
            backend.post_processor = processors.TemplateProcessing(
                single=f"{cls}:0 $A:0 {sep}:0",
                pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
                special_tokens=[(cls, backend.token_to_id(cls)), (sep, backend.token_to_id(sep))],
            )
        return backend

    def _encode_texts(self, texts: Sequence[str]) -> list[list[int]]:
        encs = self._backend.encode_batch_fast(list(texts), add_special_tokens=False)
        return [e.ids for e in encs]

    def tokenize(self, text: str) -> list[str]:
        check_text(text, "text")
        return self._backend.encode(text, add_special_tokens=False).tokens

    def _decode_ids(self, ids: list[int], skip_special_tokens: bool) -> str:
        return self._backend.decode(ids, skip_special_tokens=skip_special_tokens)

    def save_pretrained(self, save_directory: str | os.PathLike) -> tuple[str, ...]:
        """As ConvBertTokenizer.save_pretrained, plus tokenizer.json."""
        written = super().save_pretrained(save_directory)
        path = Path(save_directory) / TOKENIZER_JSON_NAME
        return (*written, str(atomic_write_text(path, self._backend.to_str(pretty=True))))


def checkpoint_tokenizer(model_dir: str | os.PathLike | None) -> ConvBertTokenizerFast:
    """The tokenizer a checkpoint was trained with: its own vocab.txt (and
    tokenizer_config.json, tokenizer.json) if the directory has one, else the shipped
    bert-base-uncased vocabulary (see tokenizer_files.checkpoint_vocab_dir).

    Example:
        >>> tok = checkpoint_tokenizer("path/to/checkpoint")
    """
    return ConvBertTokenizerFast.from_pretrained(checkpoint_vocab_dir(model_dir))
