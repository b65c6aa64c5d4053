"""Parity with transformers 4.57.6: our ConvBertTokenizer against its slow ConvBertTokenizer,
our ConvBertTokenizerFast against its ConvBertTokenizerFast, on the shipped vocabulary.

Where transformers' own slow and fast tokenizers disagree, each of ours follows its
namesake; ``test_transformers_slow_and_fast_differ_here`` records the cases found.
Only the two tokenization modules of transformers are imported (no TensorFlow, no torch).
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convbert_edge import ConvBertTokenizer, ConvBertTokenizerFast
from convbert_edge.errors import TokenizerError
from convbert_edge.tokenizer_files import default_vocab_path

tok_slow = pytest.importorskip("transformers.models.convbert.tokenization_convbert")
tok_fast = pytest.importorskip("transformers.models.convbert.tokenization_convbert_fast")

# transformers logs a warning per longest_first pair call; the tests compare outputs instead.
logging.getLogger("transformers").setLevel(logging.ERROR)

KEYS = ("input_ids", "token_type_ids", "attention_mask", "special_tokens_mask")
# (do_lower_case, strip_accents, tokenize_chinese_chars)
OPTIONS = [(True, None, True), (False, None, True), (True, False, True), (False, True, True),
           (True, None, False)]  # fmt: skip

HARD_CASES = [
    # accents and case
    "Café naïve résumé Ångström crème brûlée", "e\u0301cole decomposed vs école", "ΟΔΟΣ Σίσυφος",
    "İstanbul STRASSE straße ﬁne ǅ", "ÀÉÎÕÜ àéîõü Ææ Øø Œœ",
    # CJK, Arabic and other scripts
    "我爱北京天安门", "abc中文def", "日本語のテキストです", "한국어 문장입니다",
    "𠀀𪜀 rare ideographs",
    "مرحبا بالعالم", "שָׁלוֹם עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก", "Привет, мир!",
    # emoji, including ZWJ sequences, skin tones, flags and recent code points
    "I love it 😍🔥👍🏽", "family 👨‍👩‍👧 flag 🇫🇷", "🥰 🫠 🪿 🫨 newer emoji", "☺️ ❤️ ©®™",
    # control, zero-width and unusual whitespace
    "a\x00b", "a\tb\nc\rd", "x\x0by\x0cz", "zero\u200bwidth", "\u200c\u200d\u2060\ufeffjoin",
    "soft\u00adhyphen", "replace\ufffdchar", "del\x7fete", "line\u2028sep\u2029para",
    "ideo\u3000space", "nb\u00a0sp", "next\x85line", "mongolian\u180evowel", "tag\U000e0041s",
    "private\ue000use", "rtl\u200fmark\u202eoverride", "\x1c\x1d\x1e\x1f seps",
    # words over 100 characters and the limit itself
    "a" * 100, "a" * 101, "supercalifragilistic" * 6, "😀" * 101, "x" * 99 + "é",
    # empty and blank
    "", " ", "   \t\n ", "\u200b", "\x00",
    # special tokens written in the text
    "[CLS] inside [SEP] text [PAD] [UNK] [MASK]", "[cls] lower", "[CL\x00S] split", "a[SEP]b",
    # punctuation and numbers
    "Hello, world!!! $5.00 ^_^ `quote` «guill» “curly” ‘single’ — dash … ellipsis",
    "don't can't won't y'all", "3.14159 1,000,000 2024-01-01 10:30", "~!@#$%^&*()_+{}|:\"<>?",
]  # fmt: skip

PAIR_CASES = [
    ("a short question?", "a much longer context that will need cutting when max length is small"),
    ("the first segment is clearly the longer one here by far", "short"),
    ("equal one two three", "equal four five six"),
    ("", "only the second has tokens"),
    ("only the first has tokens", ""),
]  # fmt: skip


def _ours(cls, options):
    lower, strip, chinese = options
    return cls(do_lower_case=lower, strip_accents=strip, tokenize_chinese_chars=chinese)


def _theirs(cls, options):
    lower, strip, chinese = options
    return cls(
        str(default_vocab_path()),
        do_lower_case=lower,
        strip_accents=strip,
        tokenize_chinese_chars=chinese,
    )


_CACHE: dict = {}


def pair_of(kind: str, options=OPTIONS[0]):
    """(ours, transformers') for kind "slow" or "fast", built once per option set."""
    key = (kind, options)
    if key not in _CACHE:
        if kind == "slow":
            _CACHE[key] = (_ours(ConvBertTokenizer, options),
                           _theirs(tok_slow.ConvBertTokenizer, options))  # fmt: skip
        else:
            _CACHE[key] = (_ours(ConvBertTokenizerFast, options),
                           _theirs(tok_fast.ConvBertTokenizerFast, options))  # fmt: skip
    return _CACHE[key]


def assert_same(ours, theirs, text, text_pair=None, **kwargs):
    kwargs = {"padding": "max_length", "max_length": 64, "truncation": True, **kwargs}
    a = ours(text, text_pair, return_tensors="np", return_special_tokens_mask=True, **kwargs)
    b = theirs(text, text_pair, return_tensors="np", return_special_tokens_mask=True, **kwargs)
    for key in KEYS:
        assert a[key].dtype == np.int32
        if not np.array_equal(a[key], b[key]):
            same_shape = a[key].shape == b[key].shape
            rows = np.flatnonzero((a[key] != b[key]).any(axis=-1)) if same_shape else []
            first = int(rows[0]) if len(rows) else 0
            texts = [text] if isinstance(text, str) else text
            pytest.fail(
                f"{key} differs for {len(rows)} row(s); first {texts[first]!r}:\n"
                f"ours   {a[key][first].tolist()}\ntheirs {b[key][first].tolist()}"
            )


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: f"lower{o[0]}-strip{o[1]}-cjk{o[2]}")
@pytest.mark.parametrize("kind", ["slow", "fast"])
def test_hard_cases_match(kind, options):
    ours, theirs = pair_of(kind, options)
    assert_same(ours, theirs, HARD_CASES, max_length=128)
    for text in HARD_CASES:
        assert ours.tokenize(text) == theirs.tokenize(text), repr(text)


@pytest.mark.parametrize("kind", ["slow", "fast"])
@pytest.mark.parametrize("strategy", ["longest_first", "only_first", "only_second"])
@pytest.mark.parametrize("max_length", [6, 7, 9, 12, 17, 40])
def test_pairs_cut_by_each_truncation_strategy(kind, strategy, max_length):
    ours, theirs = pair_of(kind)
    for first, second in PAIR_CASES:
        lengths = [len(theirs.tokenize(t)) for t in (first, second)]
        # transformers' fast tokenizer encodes a lone text_pair="" as no pair (one [SEP]).
        n_special = 2 if kind == "fast" and not second else 3
        excess = sum(lengths) + n_special - max_length
        cut = {"only_first": lengths[0], "only_second": lengths[1]}.get(strategy)
        if excess > 0 and cut is not None and cut <= excess:
            # transformers' slow tokenizer logs an error and returns a longer row; its fast
            # one raises. Static shapes: both of ours raise TokenizerError.
            with pytest.raises(TokenizerError, match="too few|needs a text_pair"):
                ours(first, second, truncation=strategy, max_length=max_length,
                     padding="max_length")  # fmt: skip
            continue
        assert_same(ours, theirs, first, second, truncation=strategy, max_length=max_length)


@pytest.mark.parametrize("kind", ["slow", "fast"])
def test_special_token_methods_match(kind):
    ours = pair_of(kind)[0]
    # transformers' fast get_special_tokens_mask only works with already_has_special_tokens;
    # ours answers both ways, so both of ours are checked against the slow one's definition.
    theirs = pair_of("slow")[1]
    a, b = [7592, 2088], [2129, 2024, 2017]
    methods = ("build_inputs_with_special_tokens", "get_special_tokens_mask",
               "create_token_type_ids_from_sequences")  # fmt: skip
    for args in ((a,), (a, b)):
        for name in methods:
            assert getattr(ours, name)(*args) == getattr(theirs, name)(*args), name
    built = [101, 7592, 100, 102, 0]
    assert ours.get_special_tokens_mask(built, already_has_special_tokens=True) == (
        theirs.get_special_tokens_mask(built, already_has_special_tokens=True)
    )
    tokens = ["hello", "##ing", "not-a-token", "[MASK]"]
    assert ours.convert_tokens_to_ids(tokens) == theirs.convert_tokens_to_ids(tokens)


@pytest.mark.parametrize("kind", ["slow", "fast"])
def test_decode_matches(kind):
    ours, theirs = pair_of(kind)
    rng = np.random.default_rng(0)
    samples = [rng.integers(0, ours.vocab_size, size=20).tolist() for _ in range(50)]
    samples += [theirs(t)["input_ids"] for t in HARD_CASES]
    for ids in samples:
        for skip in (False, True):
            assert ours.decode(ids, skip_special_tokens=skip) == theirs.decode(
                ids, skip_special_tokens=skip
            ), ids


def test_transformers_slow_and_fast_differ_here():
    """Cases where transformers' slow and fast tokenizers disagree (and ours follow each)."""
    slow, ref_slow = pair_of("slow")
    fast, ref_fast = pair_of("fast")
    # 1. longest_first on a pair with an odd budget: the slow one gives the spare token to
    #    the first segment, `tokenizers` to the longer one (the second on a tie).
    kw = {"truncation": "longest_first", "max_length": 8}
    text, pair = "one two three four", "five six seven eight"
    assert ref_slow(text, pair, **kw)["input_ids"] != ref_fast(text, pair, **kw)["input_ids"]
    assert slow(text, pair, **kw)["input_ids"] == ref_slow(text, pair, **kw)["input_ids"]
    assert fast(text, pair, **kw)["input_ids"] == ref_fast(text, pair, **kw)["input_ids"]
    # 2. Code points newer than Python 3.11's Unicode 14 tables (here Unicode 15's U+1FAE8
    #    shaking face) are "unassigned" to the slow tokenizer and dropped; the fast one
    #    keeps them as [UNK].
    text = "shaking \U0001fae8 face"
    assert ref_slow.tokenize(text) != ref_fast.tokenize(text)
    assert slow.tokenize(text) == ref_slow.tokenize(text)
    assert fast.tokenize(text) == ref_fast.tokenize(text)
    # 3. A lone empty text_pair: the slow one encodes a pair ([CLS] a [SEP] [SEP]), the
    #    fast one drops it ([CLS] a [SEP]), though not inside a batch.
    assert ref_slow("a", "")["input_ids"] == slow("a", "")["input_ids"] == [101, 1037, 102, 102]
    assert ref_fast("a", "")["input_ids"] == fast("a", "")["input_ids"] == [101, 1037, 102]
    assert fast(["a"], [""])["input_ids"] == ref_fast(["a"], [""])["input_ids"]
    # 4. max_length=2 on one text: `tokenizers` keeps [CLS] [SEP]; the slow one logs an
    #    error and returns the text uncut, longer than max_length, which ours refuses.
    kw = {"truncation": True, "max_length": 2}
    assert fast("a b c", **kw)["input_ids"] == ref_fast("a b c", **kw)["input_ids"] == [101, 102]
    assert len(ref_slow("a b c", **kw)["input_ids"]) == 5
    with pytest.raises(TokenizerError, match="max_length=2 leaves no room"):
        slow("a b c", **kw)
    # 5. Cased: a special token spelled with a control character inside becomes the special
    #    token itself for the slow one (cleaned, then kept whole as "never split"); the fast
    #    one matches special tokens before cleaning, so it sees ordinary punctuation.
    slow_cased, ref_slow_cased = pair_of("slow", (False, None, True))
    fast_cased, ref_fast_cased = pair_of("fast", (False, None, True))
    text = "[CL\x00S] split"
    assert ref_slow_cased.tokenize(text) == slow_cased.tokenize(text) == ["[CLS]", "split"]
    split = ["[", "[UNK]", "]", "split"]
    assert ref_fast_cased.tokenize(text) == fast_cased.tokenize(text) == split


@pytest.mark.slow
@pytest.mark.parametrize("options", OPTIONS[:2], ids=["uncased", "cased"])
@pytest.mark.parametrize("kind", ["slow", "fast"])
def test_real_sentences_match(kind, options, movie_review_texts):
    ours, theirs = pair_of(kind, options)
    texts = movie_review_texts[:2000]
    assert len(texts) == 2000
    assert_same(ours, theirs, texts, max_length=128)
    # Pairs of neighbouring snippets, cut to 64 by longest_first.
    assert_same(ours, theirs, texts[:1000], texts[1000:2000], max_length=64)


@pytest.fixture(scope="module")
def movie_review_texts():
    from convbert_edge.data import cache_dir_from_environ, load_movie_review_splits

    splits = load_movie_review_splits(cache_dir_from_environ(os.environ))
    return [e.text for e in splits.train]


# Random unicode, and random unicode mixed with real words and special tokens.
_WORDS = ["the", "film", "Unaffable", "naïve", "[SEP]", "[MASK]", "中文", "😀", "don't", "..."]
unicode_text = st.one_of(
    st.text(max_size=60),
    st.lists(st.one_of(st.sampled_from(_WORDS), st.text(max_size=4)), max_size=12).map(" ".join),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=unicode_text, pair=st.one_of(st.none(), unicode_text),
       max_length=st.integers(3, 40), options=st.sampled_from(OPTIONS))  # fmt: skip
def test_random_unicode_matches(text, pair, max_length, options):
    for kind in ("slow", "fast"):
        ours, theirs = pair_of(kind, options)
        assert ours.tokenize(text) == theirs.tokenize(text)
        assert_same(ours, theirs, text, pair, max_length=max_length)
