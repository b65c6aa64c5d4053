"""Property tests over everything a user hands the toolkit on the input side.

- Both tokenizers, on arbitrary Unicode (lone surrogates included): valid ids below
  vocab_size, or a TokenizerError; never another exception. Where both succeed on
  text whose characters Python's Unicode tables know, slow and fast agree.
- Config parsing, on arbitrary JSON-ish dicts: a ConvBertConfig that survives a JSON round
  trip, or a ConfigError; never another exception.
- Session.run, on arbitrary arrays: outputs equal to the numpy reference exactly when the
  inputs are valid by the contract (names, integer dtype, shape, ranges), else InputError.

Each property runs twice: 50 examples in the unit tier, many more under ``slow``
(together over 10,000 examples; about a minute here).
"""

from __future__ import annotations

import json
import math
import tempfile
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tiny_artifacts import SEQ, TYPES, VOCAB, good_inputs, make_tiny_artifact, reference

from convbert_edge import ConvBertTokenizer, ConvBertTokenizerFast
from convbert_edge.config import PRESETS, ConvBertConfig
from convbert_edge.config_fields import FIELD_RULES
from convbert_edge.errors import ConfigError, InputError, TokenizerError
from convbert_edge.runtime.session import load

FAST_EXAMPLES = 50
_COMMON = dict(
    deadline=None,
    database=None,  # no .hypothesis directory in the tree; failures print their example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def two_tiers(strategy, slow_examples: int):
    """(unit-tier test, slow-tier test) running one property on ``strategy``."""

    def decorate(prop):
        @settings(max_examples=FAST_EXAMPLES, **_COMMON)
        @given(strategy)
        def fast(case):
            prop(case)

        @pytest.mark.slow
        @settings(max_examples=slow_examples, **_COMMON)
        @given(strategy)
        def slow(case):
            prop(case)

        return fast, slow

    return decorate


# ----------------------------------------------------------------------------- tokenizers
_SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
_WORDS = ["the", "film", "Unaffable", "naïve", "[SEP]", "[CLS]", "[UNK]", "中文", "😀", "don't"]
_PIECES = st.one_of(
    st.text(max_size=6),
    st.sampled_from(_WORDS),
    _SURROGATES,
    st.text(st.characters(max_codepoint=0x7F), max_size=6),
)
unicode_text = st.lists(_PIECES, max_size=10).map(" ".join)

_TOKENIZERS = {}


def _tokenizer(cls):
    # Built once: reading the 30522-token vocabulary takes a noticeable fraction of a second.
    if cls not in _TOKENIZERS:
        _TOKENIZERS[cls] = cls.from_pretrained(None)
    return _TOKENIZERS[cls]


def _encode(cls, text, pair, max_length):
    """input_ids of a call, or the TokenizerError it raised; any other exception escapes."""
    tok = _tokenizer(cls)
    try:
        enc = tok(
            text,
            pair,
            padding="max_length",
            truncation=True,
            max_length=max_length,
            return_tensors="np",
        )
    except TokenizerError as err:
        return err
    ids = enc["input_ids"]
    assert ids.shape == (1, max_length) and ids.dtype == np.int32
    assert enc["attention_mask"].shape == enc["token_type_ids"].shape == ids.shape
    assert 0 <= ids.min() and ids.max() < tok.vocab_size, "an id outside the vocabulary"
    assert set(np.unique(enc["attention_mask"])) <= {0, 1}
    return ids


@two_tiers(
    st.tuples(unicode_text, st.one_of(st.none(), unicode_text), st.integers(1, 40)),
    slow_examples=3000,
)
def _tokenizers_give_valid_ids_or_a_tokenizer_error(case):
    text, pair, max_length = case
    in_text = any(0xD800 <= ord(c) <= 0xDFFF for c in text)
    in_pair = any(0xD800 <= ord(c) <= 0xDFFF for c in pair or "")
    for cls in (ConvBertTokenizer, ConvBertTokenizerFast):
        result = _encode(cls, text, pair, max_length)
        if in_text or in_pair:
            assert isinstance(result, TokenizerError) and "lone surrogate" in str(result)
        try:
            tokens = _tokenizer(cls).tokenize(text)
        except TokenizerError as err:
            assert in_text, err
            continue
        ids = _tokenizer(cls).convert_tokens_to_ids(tokens)
        assert all(0 <= i < _tokenizer(cls).vocab_size for i in ids)


test_tokenizers_give_valid_ids_fast, test_tokenizers_give_valid_ids_slow = (
    _tokenizers_give_valid_ids_or_a_tokenizer_error
)


def _known_to_python(text: str) -> bool:
    # Code points newer than Python 3.11's Unicode 14 tables are "unassigned" to the slow
    # tokenizer (dropped) and [UNK] to the fast one: transformers' own pair differs there
    # too (test_tokenizer_parity records it), so agreement is asked only outside them.
    return all(unicodedata.category(c) != "Cn" for c in text)


@two_tiers(st.tuples(unicode_text.filter(_known_to_python), st.integers(3, 40)), slow_examples=1500)
def _slow_and_fast_agree(case):
    text, max_length = case
    slow = _encode(ConvBertTokenizer, text, None, max_length)
    fast = _encode(ConvBertTokenizerFast, text, None, max_length)
    if isinstance(slow, TokenizerError) or isinstance(fast, TokenizerError):
        assert type(slow) is type(fast), (slow, fast)
        assert str(slow) == str(fast)
        return
    np.testing.assert_array_equal(slow, fast)
    assert _tokenizer(ConvBertTokenizer).tokenize(text) == _tokenizer(
        ConvBertTokenizerFast
    ).tokenize(text)


test_slow_and_fast_agree_fast, test_slow_and_fast_agree_slow = _slow_and_fast_agree


# ----------------------------------------------------------------------------- config
_json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 100),
    st.integers(),
    st.floats(),  # NaN and ±inf included: json.loads reads them from NaN/Infinity
    st.text(max_size=8),
    st.sampled_from(["0.1", "2", "gelu", "last", "1e-12", ""]),
)
json_value = st.recursive(
    _json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
_PLAUSIBLE = {
    **{
        name: st.sampled_from([1, 2, 4, 64, 128])
        for name, r in FIELD_RULES.items()
        if r.kind is int
    },
    **{
        name: st.floats(0, 1, exclude_max=True)
        for name, r in FIELD_RULES.items()
        if r.kind is float
    },
    "layer_norm_eps": st.floats(1e-12, 1e-3),
    "hidden_act": st.sampled_from(["gelu", "relu", "mish"]),
    "summary_type": st.sampled_from(["last", "first", "bogus"]),
    "conv_kernel_size": st.sampled_from([1, 3, 8, 9]),
    "num_labels": st.integers(-2, 12),
    "id2label": st.one_of(
        st.dictionaries(st.sampled_from(["0", "1", "2", "x", "-1", 0, 1]), json_value, max_size=3),
        st.lists(st.text(max_size=3), max_size=3),
    ),
    "label2id": st.dictionaries(st.text(max_size=3), st.one_of(st.integers(-1, 3), json_value)),
    "model_type": st.sampled_from(["convbert", "bert", 3]),
    "extra": json_value,
}
_KEYS = sorted(_PLAUSIBLE)


@st.composite
def config_dicts(draw):
    base = dict(PRESETS[draw(st.sampled_from(sorted(PRESETS)))]) if draw(st.booleans()) else {}
    for key in draw(st.lists(st.sampled_from(_KEYS), max_size=6, unique=True)):
        base[key] = draw(st.one_of(_PLAUSIBLE[key], json_value))
    for key, value in draw(st.dictionaries(st.text(max_size=6), json_value, max_size=2)).items():
        base.setdefault(key, value)
    return base


@two_tiers(config_dicts(), slow_examples=4000)
def _config_parses_or_refuses(data):
    try:
        cfg = ConvBertConfig.from_dict(data)
    except ConfigError as err:
        event("ConfigError")
        assert str(err)
        return
    event("a config")
    for name, rule in FIELD_RULES.items():
        value = getattr(cfg, name)
        assert rule.accepts(value), (name, value)
        assert not isinstance(value, float) or math.isfinite(value)
    assert sorted(cfg.id2label) == list(range(cfg.num_labels))
    # What it writes reads back to the same config, through real JSON text (compared as
    # text: unknown keys may hold NaN, which is not equal to itself).
    back = ConvBertConfig.from_dict(json.loads(cfg.to_json_string()))
    assert back.to_json_string() == cfg.to_json_string()


test_config_parses_or_refuses_fast, test_config_parses_or_refuses_slow = _config_parses_or_refuses


# ----------------------------------------------------------------------------- Session.run
_SESSIONS: dict = {}


def _session():
    # Built once, on first use: @given tests draw many examples from one test call and
    # cannot take a fresh fixture per example. ONNX is the fastest of the three runtimes
    # to build and run; the checks are the base class's, shared by every runtime
    # (test_reliability_inputs runs them on all three).
    if not _SESSIONS:
        _SESSIONS["dir"] = tempfile.TemporaryDirectory()  # removed with the module
        directory = make_tiny_artifact(Path(_SESSIONS["dir"].name) / "onnx", "onnx")
        _SESSIONS["session"] = load(directory, threads=1)
    return _SESSIONS["session"]


_INT_DTYPES = st.sampled_from(
    [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64]
)
_DTYPES = st.one_of(_INT_DTYPES, st.sampled_from([np.float32, np.float64, np.bool_]))
_SHAPES = st.one_of(st.just((1, SEQ)), hnp.array_shapes(max_dims=3, max_side=SEQ + 1))


@st.composite
def _input_array(draw, high):
    dtype = np.dtype(draw(_DTYPES))
    shape = draw(_SHAPES)
    if dtype.kind in "iu" and draw(st.booleans()):
        # Mostly valid values, so that the success path is exercised as well.
        info = np.iinfo(dtype)
        elements = st.integers(max(0, int(info.min)), min(high - 1, int(info.max)))
    else:
        elements = None
    return draw(hnp.arrays(dtype, shape, elements=elements))


_HIGH = {"input_ids": VOCAB, "attention_mask": 2, "token_type_ids": TYPES}


@st.composite
def run_inputs(draw):
    """Valid inputs of any integer dtype, then up to two mutations: a value set to any
    integer its dtype holds, an input replaced by an arbitrary array, one dropped, one added."""
    inputs = {}
    for name, high in _HIGH.items():
        dtype = np.dtype(draw(_INT_DTYPES))
        elements = st.integers(0, min(high - 1, int(np.iinfo(dtype).max)))
        inputs[name] = draw(hnp.arrays(dtype, (1, SEQ), elements=elements))
    for _ in range(draw(st.integers(0, 2))):
        mutation = draw(st.sampled_from(["value", "array", "drop", "add"]))
        name = draw(st.sampled_from(sorted(_HIGH)))
        if mutation == "drop":
            inputs.pop(name, None)
        elif mutation == "add":
            inputs[draw(st.text(max_size=5))] = np.zeros((1, SEQ), np.int32)
        elif mutation == "array" or name not in inputs or inputs[name].dtype.kind not in "iu":
            inputs[name] = draw(_input_array(_HIGH[name]))
        elif inputs[name].shape == (1, SEQ):
            arr = inputs[name].copy()
            info = np.iinfo(arr.dtype)
            arr[0, draw(st.integers(0, SEQ - 1))] = draw(st.integers(int(info.min), int(info.max)))
            inputs[name] = arr
    return inputs


def _valid(inputs) -> bool:
    """The contract of Session.run, written independently of the code under test."""
    if sorted(inputs) != sorted(_HIGH):
        return False
    for name, arr in inputs.items():
        if arr.dtype.kind not in "iu" or arr.shape != (1, SEQ):
            return False
        if int(arr.min()) < 0 or int(arr.max()) >= _HIGH[name]:
            return False
    return True


@two_tiers(run_inputs(), slow_examples=2500)
def _session_run_answers_or_refuses(inputs):
    session = _session()
    valid = _valid(inputs)
    event("valid inputs" if valid else "invalid inputs")  # --hypothesis-show-statistics
    try:
        out = session.run(inputs)
    except InputError as err:
        assert not valid, f"valid inputs refused: {err}"
        return
    assert valid, "invalid inputs were run"
    expected = reference(**{k: v.astype(np.int64) for k, v in inputs.items()})
    np.testing.assert_allclose(out["logits"], expected, rtol=1e-5, atol=1e-5)


test_session_run_answers_or_refuses_fast, test_session_run_answers_or_refuses_slow = (
    _session_run_answers_or_refuses
)


def test_the_reference_matches_good_inputs():
    # The oracle of the property above, checked against the artifact on known inputs.
    inputs = good_inputs()
    np.testing.assert_allclose(_session().run(inputs)["logits"], reference(**inputs), rtol=1e-5)
