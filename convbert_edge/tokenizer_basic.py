"""Text -> words exactly as transformers' slow BasicTokenizer splits them.

transformers' slow ConvBertTokenizer cleans, lower-cases and splits text in Python with
Python's Unicode tables (unicodedata 14.0 on Python 3.11), while the `tokenizers`
BertNormalizer/BertPreTokenizer use Rust's tables. Measured differences: code points
newer than Python's tables (e.g. Unicode 15 emoji) count as unassigned for the slow
tokenizer and vanish, where the fast one gives [UNK]; and with do_lower_case=False a
special token spelled with a control character inside ("[CL\\x00S]") becomes that
special token after cleaning. So ``ConvBertTokenizer`` splits words here, following the
slow tokenizer step by step (including its NFC step and per-character lower-casing),
and hands them to the `tokenizers` WordPiece model. The character classes are built once
from ``unicodedata`` as regular expressions, so the work stays in C rather than in a
per-character Python loop.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass


def _ranges(codepoints: Iterable[int]) -> str:
    """A regex character-class body for a sorted run of code points."""
    parts: list[str] = []
    start = prev = None
    for cp in codepoints:
        if prev is not None and cp == prev + 1:
            prev = cp
            continue
        if start is not None:
            parts.append(_span(start, prev))
        start = prev = cp
    if start is not None:
        parts.append(_span(start, prev))
    return "".join(parts)


def _span(a: int, b: int) -> str:
    return re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"


@dataclass(frozen=True)
class _CharClasses:
    """Compiled patterns for the character classes of BasicTokenizer."""

    removed: re.Pattern  # NUL, U+FFFD and every "C*" category except \t \n \r
    whitespace: re.Pattern  # \t \n \r and category Zs: become a plain space
    chinese: re.Pattern  # the CJK ideograph blocks BERT puts spaces around
    nonspacing_mark: re.Pattern  # category Mn: dropped by strip_accents
    punct_or_word: re.Pattern  # one punctuation char, or a run of anything else


# The CJK blocks of the original BERT code (not Hangul, Hiragana or Katakana).
_CJK_BLOCKS = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


@functools.cache
def _char_classes() -> _CharClasses:
    # Built on first use (about 0.1 s) so importing the package stays cheap.
    removed, whitespace, marks, punct = [], [], [], []
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if ch in " \t\n\r" or cat == "Zs":
            whitespace.append(cp)
        elif cp == 0 or cp == 0xFFFD or cat.startswith("C"):
            removed.append(cp)
        if cat == "Mn":
            marks.append(cp)
        # BERT counts all non-alphanumeric ASCII as punctuation ("$", "^", "`"), not only "P*".
        if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
            punct.append(cp)
        elif cat.startswith("P"):
            punct.append(cp)
    cjk = "".join(_span(a, b) for a, b in _CJK_BLOCKS)
    p = _ranges(punct)
    return _CharClasses(
        removed=re.compile(f"[{_ranges(removed)}]+"),
        whitespace=re.compile(f"[{_ranges(whitespace)}]"),
        chinese=re.compile(f"([{cjk}])"),
        nonspacing_mark=re.compile(f"[{_ranges(marks)}]+"),
        punct_or_word=re.compile(f"[{p}]|[^{p}]+"),
    )


@dataclass(frozen=True)
class BasicSplitter:
    """Splits text into words the way transformers' slow BERT-family tokenizers do.

    Args:
        do_lower_case: lower-case every word (after the special tokens are cut out).
        strip_accents: drop combining marks; None means "same as do_lower_case".
        tokenize_chinese_chars: put spaces around CJK ideographs.
        never_split: words kept whole, neither lower-cased nor split on punctuation
            (transformers passes all special tokens here).

    Example:
        >>> BasicSplitter(do_lower_case=True).split("Héllo, WORLD!")
        ['hello', ',', 'world', '!']
    """

    do_lower_case: bool = True
    strip_accents: bool | None = None
    tokenize_chinese_chars: bool = True
    never_split: frozenset[str] = frozenset()

    def split(self, text: str) -> list[str]:
        """Words of one piece of text that holds no special token."""
        cc = _char_classes()
        if self.do_lower_case:
            # transformers lower-cases character by character before anything else, so
            # a word-final capital sigma becomes "σ", where str.lower() would give "ς".
            text = text.replace("Σ", "σ").lower()
        text = cc.removed.sub("", text)
        text = cc.whitespace.sub(" ", text)
        if self.tokenize_chinese_chars:
            text = cc.chinese.sub(r" \1 ", text)
        text = unicodedata.normalize("NFC", text)
        strip = self.strip_accents if self.strip_accents is not None else self.do_lower_case
        words: list[str] = []
        for token in text.split():
            if token in self.never_split:
                words.append(token)
                continue
            if self.do_lower_case:
                token = token.lower()
            if strip:
                token = cc.nonspacing_mark.sub("", unicodedata.normalize("NFD", token))
            words.extend(cc.punct_or_word.findall(token))
        # A word can be left empty or hold spaces after lower-casing or accent stripping.
        return " ".join(words).split()
