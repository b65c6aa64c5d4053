"""What both ConvBERT tokenizers share: files, special tokens, __call__, decode, saving.

A subclass supplies the `tokenizers` backend (``_load_backend``), text -> ids without
special tokens (``_encode_texts``) and the pair truncation rule of its transformers
namesake (``_pair_rule``); everything a caller sees is defined once, here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, models

from convbert_edge.errors import TokenizerError
from convbert_edge.io_utils import atomic_write_text
from convbert_edge.tokenizer_encode import BatchEncoding, EncodeRequest, assemble, check_text
from convbert_edge.tokenizer_files import (
    CONFIG_NAME,
    SPECIAL_TOKENS_MAP_NAME,
    TOKENIZER_JSON_NAME,
    VOCAB_NAME,
    check_special_tokens,
    check_vocab_ids,
    default_vocab_path,
    load_vocab,
    read_settings,
    resolve_directory,
)

# BERT's WordPiece gives up on longer words and emits [UNK].
MAX_INPUT_CHARS_PER_WORD = 100


def _clean_up_tokenization(text: str) -> str:
    # transformers' clean_up_tokenization: undo the spaces decode puts before punctuation.
    return (
        text.replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
        .replace(" ,", ",")
        .replace(" ' ", "'")
        .replace(" n't", "n't")
        .replace(" 'm", "'m")
        .replace(" 's", "'s")
        .replace(" 've", "'ve")
        .replace(" 're", "'re")
    )


class ConvBertTokenizerBase:
    """What both tokenizers share: files, special tokens, __call__, decode, saving.

    Not used directly: ConvBertTokenizer and ConvBertTokenizerFast document the
    constructor arguments and give examples.
    """

    # How a pair is cut to fit under truncation="longest_first"; see tokenizer_encode.
    _pair_rule = "python"
    # transformers' fast tokenizer treats a lone text_pair="" as no pair at all (one [SEP]).
    _empty_single_pair_is_none = False

    def __init__(
        self,
        vocab_file: str | os.PathLike | None = None,
        *,
        do_lower_case: bool = True,
        strip_accents: bool | None = None,
        tokenize_chinese_chars: bool = True,
        model_max_length: int | None = None,
        unk_token: str = "[UNK]",
        sep_token: str = "[SEP]",
        pad_token: str = "[PAD]",
        cls_token: str = "[CLS]",
        mask_token: str = "[MASK]",
        tokenizer_file: str | os.PathLike | None = None,
    ):
        self.settings = read_settings(
            None,
            do_lower_case=do_lower_case,
            strip_accents=strip_accents,
            tokenize_chinese_chars=tokenize_chinese_chars,
            model_max_length=model_max_length,
            unk_token=unk_token,
            sep_token=sep_token,
            pad_token=pad_token,
            cls_token=cls_token,
            mask_token=mask_token,
        )
        self._backend = self._load_backend(vocab_file, tokenizer_file)
        # The backend owns the vocabulary; one Python copy serves lookups and saving.
        self.vocab: dict[str, int] = self._backend.get_vocab(with_added_tokens=False)
        source = str(tokenizer_file or vocab_file or default_vocab_path())
        check_vocab_ids(self.vocab, self._backend.get_vocab(with_added_tokens=True), source)
        check_special_tokens(self.vocab, self.settings, source)
        self.ids_to_tokens = {i: t for t, i in self.vocab.items()}
        self._special = {
            name: tok for name, tok in self.settings.special_tokens().items() if tok in self.vocab
        }

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike | None = None, **overrides):
        """Load from a checkpoint directory (vocab.txt, tokenizer_config.json, tokenizer.json).

        Args:
            directory: a local directory or a vocab.txt path; None loads the shipped
                bert-base-uncased vocabulary (the one the public ConvBERT checkpoints use).
            **overrides: any TokenizerSettings field, e.g. ``do_lower_case=False``; these
                win over tokenizer_config.json.
        """
        folder, vocab_path = resolve_directory(directory)
        s = read_settings(folder, **overrides)
        tokenizer_file = None
        if folder is not None and (folder / TOKENIZER_JSON_NAME).is_file():
            tokenizer_file = folder / TOKENIZER_JSON_NAME
        return cls(
            vocab_path,
            do_lower_case=s.do_lower_case,
            strip_accents=s.strip_accents,
            tokenize_chinese_chars=s.tokenize_chinese_chars,
            model_max_length=s.model_max_length,
            tokenizer_file=tokenizer_file,
            **s.special_tokens(),
        )

    # ----------------------------------------------------------------- backends

    def _load_backend(self, vocab_file, tokenizer_file) -> Tokenizer:
        raise NotImplementedError

    def _wordpiece_model(self, vocab_file) -> models.WordPiece:
        vocab = load_vocab(vocab_file if vocab_file is not None else default_vocab_path())
        return models.WordPiece(
            vocab,
            unk_token=self.settings.unk_token,
            max_input_chars_per_word=MAX_INPUT_CHARS_PER_WORD,
        )

    def _encode_texts(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, without special tokens."""
        raise NotImplementedError

    # ----------------------------------------------------------------- vocabulary

    @property
    def do_lower_case(self) -> bool:
        return self.settings.do_lower_case

    @property
    def model_max_length(self) -> int:
        return self.settings.model_max_length

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab)

    def get_vocab(self) -> dict[str, int]:
        return dict(self.vocab)

    def _special_id(self, name: str) -> int | None:
        tok = self._special.get(name)
        return None if tok is None else self.vocab[tok]

    cls_token_id = property(lambda self: self._special_id("cls_token"))
    sep_token_id = property(lambda self: self._special_id("sep_token"))
    pad_token_id = property(lambda self: self._special_id("pad_token"))
    unk_token_id = property(lambda self: self._special_id("unk_token"))
    mask_token_id = property(lambda self: self._special_id("mask_token"))
    cls_token = property(lambda self: self.settings.cls_token)
    sep_token = property(lambda self: self.settings.sep_token)
    pad_token = property(lambda self: self.settings.pad_token)
    unk_token = property(lambda self: self.settings.unk_token)
    mask_token = property(lambda self: self.settings.mask_token)

    @property
    def all_special_tokens(self) -> list[str]:
        return list(dict.fromkeys(self._special.values()))

    @property
    def all_special_ids(self) -> list[int]:
        return [self.vocab[t] for t in self.all_special_tokens]

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> int | list[int]:
        unk = self.vocab[self.settings.unk_token]
        if isinstance(tokens, str):
            return self.vocab.get(tokens, unk)
        return [self.vocab.get(t, unk) for t in tokens]

    def convert_ids_to_tokens(
        self, ids: int | Sequence[int], skip_special_tokens: bool = False
    ) -> str | list[str]:
        unk = self.settings.unk_token
        if isinstance(ids, (int, np.integer)):
            return self.ids_to_tokens.get(int(ids), unk)
        skip = set(self.all_special_ids) if skip_special_tokens else ()
        return [self.ids_to_tokens.get(int(i), unk) for i in ids if int(i) not in skip]

    # ----------------------------------------------------------------- special tokens

    def build_inputs_with_special_tokens(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        """``[CLS] A [SEP]`` or ``[CLS] A [SEP] B [SEP]``."""
        out = [self.cls_token_id, *token_ids_0, self.sep_token_id]
        if token_ids_1 is not None:
            out += [*token_ids_1, self.sep_token_id]
        return out

    def get_special_tokens_mask(
        self,
        token_ids_0: list[int],
        token_ids_1: list[int] | None = None,
        already_has_special_tokens: bool = False,
    ) -> list[int]:
        """1 where build_inputs_with_special_tokens puts a special token, else 0."""
        if already_has_special_tokens:
            if token_ids_1 is not None:
                raise TokenizerError(
                    "token_ids_1 must be None when already_has_special_tokens=True "
                    "(pass the already-built sequence as token_ids_0)"
                )
            special = set(self.all_special_ids)
            return [1 if i in special else 0 for i in token_ids_0]
        mask = [1] + [0] * len(token_ids_0) + [1]
        if token_ids_1 is not None:
            mask += [0] * len(token_ids_1) + [1]
        return mask

    def create_token_type_ids_from_sequences(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        """0 over ``[CLS] A [SEP]``, 1 over ``B [SEP]``."""
        types = [0] * (len(token_ids_0) + 2)
        if token_ids_1 is not None:
            types += [1] * (len(token_ids_1) + 1)
        return types

    # ----------------------------------------------------------------- text -> ids

    def tokenize(self, text: str) -> list[str]:
        """WordPiece tokens of one text, without special tokens."""
        check_text(text, "text")
        return [self.ids_to_tokens.get(i, self.unk_token) for i in self._encode_texts([text])[0]]

    def encode(self, text: str, text_pair: str | None = None, **kwargs) -> list[int]:
        """input_ids of one text (or pair) as a list; keyword arguments as for __call__."""
        return self(text, text_pair, return_tensors=None, **kwargs)["input_ids"]

    def __call__(
        self,
        text: str | Sequence[str] | None = None,
        text_pair: str | Sequence[str] | None = None,
        *,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        return_tensors: str | None = None,
        return_token_type_ids: bool | None = None,
        return_attention_mask: bool | None = None,
        return_special_tokens_mask: bool = False,
        return_length: bool = False,
        verbose: bool = True,
        **unsupported,
    ) -> BatchEncoding:
        """Encode texts (or text pairs) the way transformers' tokenizer __call__ does.

        Args:
            text: one string or a batch (list) of strings.
            text_pair: the second segment: a string, or a list as long as ``text``.
            padding: "max_length" (static shape, what export wants), True/"longest",
                or False.
            truncation: True/"longest_first", "only_first", "only_second" or False/None.
            max_length: the length to pad and truncate to; defaults to model_max_length
                when padding="max_length" or truncation is asked for.
            return_tensors: "np" for int32 arrays of shape (batch, length), None for lists.

        Returns:
            BatchEncoding: input_ids, token_type_ids, attention_mask (and on request
            special_tokens_mask, length).

        Raises:
            TokenizerError: empty batch, a text that does not fit max_length without
                truncation, or a keyword this tokenizer does not implement.
        """
        del verbose  # accepted for transformers compatibility; nothing is logged
        request = EncodeRequest.from_kwargs(
            text=text,
            text_pair=text_pair,
            add_special_tokens=add_special_tokens,
            padding=padding,
            truncation=truncation,
            max_length=max_length,
            return_tensors=return_tensors,
            model_max_length=self.model_max_length,
            unsupported=unsupported,
            empty_pair_is_none=self._empty_single_pair_is_none,
        )
        ids0 = self._encode_texts(request.texts)
        ids1 = self._encode_texts(request.pairs) if request.pairs is not None else None
        return assemble(
            request,
            ids0,
            ids1,
            cls_id=self.cls_token_id,
            sep_id=self.sep_token_id,
            pad_id=self.pad_token_id,
            pair_rule=self._pair_rule,
            return_token_type_ids=return_token_type_ids is not False,
            return_attention_mask=return_attention_mask is not False,
            return_special_tokens_mask=return_special_tokens_mask,
            return_length=return_length,
        )

    # ----------------------------------------------------------------- ids -> text

    def decode(
        self,
        token_ids: int | Sequence[int] | np.ndarray,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool = True,
    ) -> str:
        """Text of one id sequence: WordPiece pieces joined, "##" continuations glued on."""
        ids = np.asarray(token_ids).reshape(-1).tolist()
        text = self._decode_ids(ids, skip_special_tokens)
        return _clean_up_tokenization(text) if clean_up_tokenization_spaces else text

    def batch_decode(self, sequences, skip_special_tokens: bool = False, **kwargs) -> list[str]:
        return [self.decode(s, skip_special_tokens, **kwargs) for s in sequences]

    def _decode_ids(self, ids: list[int], skip_special_tokens: bool) -> str:
        tokens = self.convert_ids_to_tokens(ids, skip_special_tokens=skip_special_tokens)
        return " ".join(tokens).replace(" ##", "").strip()

    # ----------------------------------------------------------------- saving

    def save_vocabulary(
        self, save_directory: str | os.PathLike, filename_prefix: str | None = None
    ) -> tuple[str]:
        """Write vocab.txt (one token a line, in id order) and return its path."""
        directory = Path(save_directory)
        name = f"{filename_prefix}-{VOCAB_NAME}" if filename_prefix else VOCAB_NAME
        ordered = sorted(self.vocab.items(), key=lambda kv: kv[1])
        if [i for _, i in ordered] != list(range(len(ordered))):
            raise TokenizerError(
                "vocabulary ids are not consecutive from 0; cannot write vocab.txt"
            )
        path = atomic_write_text(directory / name, "".join(t + "\n" for t, _ in ordered))
        return (str(path),)

    def save_pretrained(self, save_directory: str | os.PathLike) -> tuple[str, ...]:
        """Write vocab.txt, tokenizer_config.json and special_tokens_map.json."""
        directory = Path(save_directory)
        written = list(self.save_vocabulary(directory))
        config = json.dumps(self.settings.to_json_dict(), indent=2) + "\n"
        written.append(str(atomic_write_text(directory / CONFIG_NAME, config)))
        specials = json.dumps(self.settings.special_tokens(), indent=2) + "\n"
        written.append(str(atomic_write_text(directory / SPECIAL_TOKENS_MAP_NAME, specials)))
        return tuple(written)

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"{type(self).__name__}(vocab_size={self.vocab_size}, do_lower_case={s.do_lower_case}, "
            f"strip_accents={s.strip_accents}, tokenize_chinese_chars={s.tokenize_chinese_chars})"
        )
