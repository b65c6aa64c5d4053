"""Regression tests for the input side of issue 18: each bad input is refused with one
typed error that names what was wrong and says what to do.

Tokenizers (both): a duplicated vocab.txt line, a non-UTF-8 vocabulary, a tokenizer.json
whose ids leave the vocabulary, lone surrogates in text. Config: NaN/inf, quoted numbers,
booleans for ints, id2label of the wrong shape. Session.run on real tiny TFLite,
ExecuTorch and ONNX artifacts: names, dtypes, shapes, id ranges. Calibration text files:
not UTF-8, empty, blank.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from tiny_artifacts import SEQ, TYPES, VOCAB, good_inputs, make_tiny_artifact, reference

from convbert_edge import ConvBertTokenizer, ConvBertTokenizerFast
from convbert_edge.config import ConvBertConfig
from convbert_edge.errors import (
    ConfigError,
    ConvBertEdgeError,
    ExportError,
    InputError,
    TokenizerError,
)
from convbert_edge.exporters.inputs import load_texts
from convbert_edge.runtime.session import load

TOKENIZERS = [ConvBertTokenizer, ConvBertTokenizerFast]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _vocab_dir(tmp_path, lines: list[str]):
    (tmp_path / "vocab.txt").write_text("".join(t + "\n" for t in lines), encoding="utf-8")
    return tmp_path


# ----------------------------------------------------------------------------- tokenizers
@pytest.mark.parametrize("cls", TOKENIZERS)
def test_a_duplicated_vocab_line_is_refused_with_file_token_and_both_lines(cls, tmp_path):
    # Before: vocab_size 7, "the" encoded as 7 (its second line), IndexError in the model.
    directory = _vocab_dir(tmp_path, [*SPECIALS, "the", "film", "the"])
    for build in (lambda: cls.from_pretrained(directory), lambda: cls(directory / "vocab.txt")):
        with pytest.raises(TokenizerError) as err:
            build()
        message = str(err.value)
        assert str(directory / "vocab.txt") in message
        assert "'the'" in message and "lines 6 and 8" in message
        assert "remove one of the two lines" in message


@pytest.mark.parametrize("cls", TOKENIZERS)
def test_a_non_utf8_vocabulary_names_the_file_and_what_to_do(cls, tmp_path):
    (tmp_path / "vocab.txt").write_bytes("\n".join(SPECIALS).encode() + b"\ncaf\xe9\n")
    with pytest.raises(TokenizerError) as err:
        cls.from_pretrained(tmp_path)
    message = str(err.value)
    assert str(tmp_path / "vocab.txt") in message
    assert "not UTF-8" in message and "save it as UTF-8" in message and "0xe9" in message


def test_a_tokenizer_json_whose_ids_leave_the_vocabulary_is_refused(tmp_path):
    ConvBertTokenizerFast(_vocab_dir(tmp_path, [*SPECIALS, "the", "film"]) / "vocab.txt")
    ConvBertTokenizerFast.from_pretrained(tmp_path).save_pretrained(tmp_path)
    data = json.loads((tmp_path / "tokenizer.json").read_text())
    data["model"]["vocab"]["film"] = 99  # a gap: "film" would be emitted as 99 >= vocab_size 7
    (tmp_path / "tokenizer.json").write_text(json.dumps(data))
    with pytest.raises(TokenizerError, match=r"gives 'film' the id 99, outside 0\.\.6"):
        ConvBertTokenizerFast.from_pretrained(tmp_path)
    data["model"]["vocab"]["film"] = 5  # "the" and "film" on one id
    (tmp_path / "tokenizer.json").write_text(json.dumps(data))
    with pytest.raises(TokenizerError, match="the same id 5"):
        ConvBertTokenizerFast.from_pretrained(tmp_path)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"model_max_length": "abc"}, "model_max_length must be a positive integer, got 'abc'"),
        ({"model_max_length": 0}, "model_max_length must be a positive integer, got 0"),
        ({"do_lower_case": "no"}, "do_lower_case must be true or false, got 'no'"),
        ({"strip_accents": 1}, "strip_accents must be true or false or null, got 1"),
    ],
)
@pytest.mark.parametrize("cls", TOKENIZERS)
def test_tokenizer_config_options_of_the_wrong_type_are_named(cls, tmp_path, options, expected):
    # Before: ValueError from int(), TypeError from `tokenizers`, or a string taken as true.
    directory = _vocab_dir(tmp_path, [*SPECIALS, "the"])
    (directory / "tokenizer_config.json").write_text(json.dumps(options))
    with pytest.raises(TokenizerError) as err:
        cls.from_pretrained(directory)
    assert expected in str(err.value) and "tokenizer_config.json" in str(err.value)


@pytest.fixture(scope="module")
def shipped():
    return {cls: cls.from_pretrained(None) for cls in TOKENIZERS}


SURROGATE_CASES = [
    # (call, what the message must name)
    (lambda t: t("a\ud800b"), "text holds the lone surrogate U+D800 at character 1"),
    (lambda t: t("\udfff"), "text holds the lone surrogate U+DFFF at character 0"),
    (lambda t: t(["fine", "x y\ud83d"]), "text[1] holds the lone surrogate U+D83D at character 3"),
    (lambda t: t("ok", "pair\udc80"), "text_pair holds the lone surrogate U+DC80 at character 4"),
    (lambda t: t(["ok"], ["\ud800"]), "text_pair[0] holds the lone surrogate U+D800"),
    (lambda t: t.tokenize("ab\ud800"), "text holds the lone surrogate U+D800 at character 2"),
    (lambda t: t.encode("\ud800"), "text holds the lone surrogate U+D800 at character 0"),
]


@pytest.mark.parametrize("case", range(len(SURROGATE_CASES)))
def test_lone_surrogates_are_one_tokenizer_error_in_both_tokenizers(shipped, case):
    # Before: the fast tokenizer raised a raw TypeError, the slow one dropped the character.
    call, expected = SURROGATE_CASES[case]
    messages = []
    for cls in TOKENIZERS:
        with pytest.raises(TokenizerError) as err:
            call(shipped[cls])
        messages.append(str(err.value))
    assert expected in messages[0]
    assert "errors='replace'" in messages[0]
    assert messages[0] == messages[1]


# ----------------------------------------------------------------------------- config
BAD_FIELDS = [
    # (key, value, what the message must say it should be)
    ("layer_norm_eps", math.nan, "a finite number > 0"),
    ("layer_norm_eps", math.inf, "a finite number > 0"),
    ("initializer_range", math.nan, "a finite number >= 0"),
    ("initializer_range", -math.inf, "a finite number >= 0"),
    ("hidden_dropout_prob", math.nan, "a finite number in [0, 1)"),
    ("hidden_dropout_prob", "0.1", "a finite number in [0, 1)"),
    ("attention_probs_dropout_prob", True, "a finite number in [0, 1)"),
    ("classifier_dropout", math.inf, "a finite number in [0, 1) or null"),
    ("hidden_size", True, "a positive integer"),
    ("num_hidden_layers", "2", "a positive integer"),
    ("vocab_size", 30522.5, "a positive integer"),
    ("max_position_embeddings", [512], "a positive integer"),
    ("pad_token_id", "0", "an integer or null"),
    ("summary_type", 3, "one of last, first, mean"),
    ("hidden_act", None, "one of gelu"),
    ("num_labels", "2", "an integer in [1, 1000000]"),
    ("num_labels", True, "an integer in [1, 1000000]"),
    ("num_labels", 2.0, "an integer in [1, 1000000]"),
    ("num_labels", 0, "an integer in [1, 1000000]"),
]


@pytest.mark.parametrize(("key", "value", "expected"), BAD_FIELDS)
def test_config_values_of_the_wrong_type_or_range_name_field_value_and_rule(
    tmp_path, key, value, expected
):
    # json writes NaN/Infinity and reads them back as floats, as a careless writer would.
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "convbert", key: value}))
    with pytest.raises(ConfigError) as err:
        ConvBertConfig.from_pretrained(tmp_path)
    message = str(err.value)
    assert "config.json" in message and key in message and expected in message
    assert repr(value) in message


@pytest.mark.parametrize(
    ("id2label", "expected"),
    [
        (["neg", "pos"], "id2label must be a JSON object mapping class index to name"),
        ({"0": "neg", "2": "pos"}, "id2label has the class indices [0, 2]"),
        ({"zero": "neg"}, "id2label has the key 'zero', not a class index"),
        ({"0": ["neg"]}, "id2label['0'] must be the class name (a string)"),
        ({}, "id2label must name at least one label"),
    ],
)
def test_an_id2label_that_is_no_index_to_name_map_is_a_config_error(tmp_path, id2label, expected):
    # Before: a list raised AttributeError ('list' object has no attribute 'items').
    (tmp_path / "config.json").write_text(
        json.dumps({"model_type": "convbert", "id2label": id2label})
    )
    with pytest.raises(ConfigError) as err:
        ConvBertConfig.from_pretrained(tmp_path)
    assert expected in str(err.value)


def test_direct_construction_gets_the_same_checks():
    with pytest.raises(ConfigError, match="layer_norm_eps must be a finite number > 0, got nan"):
        ConvBertConfig(layer_norm_eps=math.nan)
    with pytest.raises(ConfigError, match="id2label must be a JSON object"):
        ConvBertConfig(id2label=["a", "b"])
    with pytest.raises(ConfigError, match="layer_norm_eps"):
        ConvBertConfig().replace(layer_norm_eps=math.inf)
    # Every wrong field is named in one message, not only the first.
    with pytest.raises(ConfigError) as err:
        ConvBertConfig(hidden_size="64", initializer_range=math.nan)
    assert "hidden_size" in str(err.value) and "initializer_range" in str(err.value)


@pytest.mark.parametrize(
    "values",
    [
        {"num_labels": 3},
        {"id2label": {"0": "a", "1": "b"}},
        {"label2id": {"a": 0, "b": 1, "c": 2}},
        {"id2label": {0: "a", 1: 7}},  # an int class name becomes text, as before
        {"layer_norm_eps": 1, "initializer_range": 0, "classifier_dropout": None},
        {"pad_token_id": None, "bos_token_id": None, "eos_token_id": None},
    ],
)
def test_values_transformers_accepts_are_still_read(values):
    cfg = ConvBertConfig.from_dict({"model_type": "convbert", **values})
    assert ConvBertConfig.from_dict(json.loads(cfg.to_json_string())) == cfg


# ----------------------------------------------------------------------------- Session.run
TARGETS = ["tflite", "executorch", "onnx"]


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """A loaded session per runtime, on a real tiny artifact (about 30 s to build all three)."""
    root = tmp_path_factory.mktemp("tiny")
    return {t: load(make_tiny_artifact(root / t, t), threads=1) for t in TARGETS}


def _with(name, value):
    inputs = good_inputs()
    inputs[name] = value
    return inputs


def _set(name, index, value, dtype=np.int32):
    array = good_inputs()[name].astype(dtype)
    array[index] = value
    return _with(name, array)


BAD_INPUTS = {
    # case: (inputs, substrings of the message)
    "missing": (
        {k: v for k, v in good_inputs().items() if k != "token_type_ids"},
        ["missing input(s) ['token_type_ids']", "the model takes exactly"],
    ),
    "unexpected": (
        {**good_inputs(), "position_ids": np.zeros((1, SEQ), np.int32)},
        ["unexpected input(s) ['position_ids']"],
    ),
    "float ids": (
        _with("input_ids", good_inputs()["input_ids"].astype(np.float32) + 0.7),
        ["input input_ids has dtype float32", "float ids are not rounded"],
    ),
    "whole float ids": (
        _with("input_ids", good_inputs()["input_ids"].astype(np.float64)),
        ["input input_ids has dtype float64"],
    ),
    "bool mask": (
        _with("attention_mask", good_inputs()["attention_mask"].astype(bool)),
        ["input attention_mask has dtype bool", ".astype(np.int32)"],
    ),
    "string ids": (_with("input_ids", np.full((1, SEQ), "7")), ["has dtype <U1"]),
    "ragged": (_with("input_ids", [[1, 2], [3]]), ["input input_ids is not an array"]),
    "shape": (
        _with("input_ids", np.zeros((1, SEQ + 1), np.int32)),
        [f"input input_ids has shape (1, {SEQ + 1})", f"exported for (1, {SEQ})"],
    ),
    "id -1": (
        _set("input_ids", (0, 3), -1),
        [f"input input_ids[0, 3] is -1, outside [0, {VOCAB})", "vocab_size", "tokenizer files"],
    ),
    "id = vocab_size": (
        _set("input_ids", (0, 5), VOCAB),
        [f"input input_ids[0, 5] is {VOCAB}, outside [0, {VOCAB})", "1 of 16 values"],
    ),
    "int64 id that wraps to a valid int32": (
        _set("input_ids", (0, 2), 2**32 + 5, np.int64),
        [f"input input_ids[0, 2] is {2**32 + 5}, outside [0, {VOCAB})"],
    ),
    "token type 2": (
        _set("token_type_ids", (0, 9), TYPES),
        [f"input token_type_ids[0, 9] is 2, outside [0, {TYPES})", "type_vocab_size"],
    ),
    "mask 2": (
        _set("attention_mask", (0, 0), 2),
        ["input attention_mask[0, 0] is 2, outside [0, 2) (a mask: 0 or 1)"],
    ),
    "mask -1": (_set("attention_mask", (0, 15), -1), ["attention_mask[0, 15] is -1"]),
    "not a dict": ([good_inputs()["input_ids"]], ["inputs must be a dict"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
@pytest.mark.parametrize("target", TARGETS)
def test_bad_inputs_are_one_input_error_on_every_runtime(sessions, target, case):
    # Before: id -1 ran (wrapped or a runtime's own error), float ids were truncated,
    # extra names were ignored, and each runtime raised its own error type.
    inputs, expected = BAD_INPUTS[case]
    with pytest.raises(InputError) as err:
        sessions[target].run(inputs)
    assert isinstance(err.value, ValueError) and isinstance(err.value, ConvBertEdgeError)
    for part in expected:
        assert part in str(err.value)


@pytest.mark.parametrize("target", TARGETS)
def test_good_inputs_run_and_match_the_reference(sessions, target):
    for seed in range(3):
        inputs = good_inputs(seed)
        inputs["input_ids"][0, :2] = [0, VOCAB - 1]  # both ends of the range are allowed
        out = sessions[target].run(inputs)["logits"]
        np.testing.assert_allclose(out, reference(**inputs), rtol=1e-5, atol=1e-5)
    # Integer arrays of another width or signedness, and nested lists, are cast.
    inputs = {k: v.astype(np.uint8) for k, v in good_inputs().items()}
    inputs["input_ids"] = inputs["input_ids"].tolist()
    np.testing.assert_allclose(
        sessions[target].run(inputs)["logits"], reference(**good_inputs()), rtol=1e-5, atol=1e-5
    )


def test_an_artifact_without_recorded_sizes_still_refuses_negative_and_wrapping_ids(tmp_path):
    # Manifests written before vocab_size/type_vocab_size were recorded: only the upper
    # bound is skipped; -1 and int64 values that would wrap in the int32 cast are refused.
    session = load(make_tiny_artifact(tmp_path / "old", "onnx", None, None), threads=1)
    with pytest.raises(InputError, match=r"outside \[0, 2147483648\) \(the int32 range; this "):
        session.run(_set("input_ids", (0, 1), -1))
    with pytest.raises(InputError, match="records no type_vocab_size"):
        session.run(_set("token_type_ids", (0, 1), 2**31, np.int64))
    assert session.run(good_inputs())["logits"].shape == (1, 2)


# ----------------------------------------------------------------------------- text files
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"a fine film\ncaf\xe9 noir\n", "is not UTF-8 (byte 0xe9 at offset 15): save it as UTF-8"),
        (b"", "holds no text (it is empty or only blank lines)"),
        (b"\n   \n\t\n", "holds no text (it is empty or only blank lines)"),
    ],
)
def test_a_calibration_file_without_usable_text_names_the_file(tmp_path, content, expected):
    path = tmp_path / "texts.txt"
    path.write_bytes(content)
    with pytest.raises(ExportError) as err:
        load_texts(str(path), 4, "train")
    assert str(path) in str(err.value) and expected in str(err.value)
