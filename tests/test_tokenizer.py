"""Our tokenizers on their own: loading, static shapes, errors, saving (no transformers)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import convbert_edge
from convbert_edge import ConvBertTokenizer, ConvBertTokenizerFast, TokenizerError
from convbert_edge.tokenizer_files import default_vocab_path

CLASSES = [ConvBertTokenizer, ConvBertTokenizerFast]
VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"


@pytest.fixture(scope="module", params=CLASSES, ids=["slow", "fast"])
def tok(request):
    return request.param.from_pretrained()


def write_vocab(path, tokens):
    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.txt").write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    return path


TINY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", "!", "cafe", "é"]


def test_shipped_vocab_is_the_pinned_one():
    import hashlib

    data = default_vocab_path().read_bytes()
    assert hashlib.sha256(data).hexdigest() == VOCAB_SHA256
    assert (default_vocab_path().parent / "NOTICE").is_file()


def test_package_exports_both_classes():
    assert convbert_edge.ConvBertTokenizer is ConvBertTokenizer
    assert convbert_edge.ConvBertTokenizerFast is ConvBertTokenizerFast


def test_default_constructor_uses_shipped_vocab(tok):
    assert tok.vocab_size == 30522
    assert (tok.cls_token_id, tok.sep_token_id, tok.pad_token_id, tok.unk_token_id) == (
        101, 102, 0, 100,
    )  # fmt: skip
    assert tok.tokenize("Hello World!") == ["hello", "world", "!"]


def test_static_shape_int32_arrays(tok):
    enc = tok(["a fine film", "dull"], padding="max_length", max_length=16, return_tensors="np")
    assert list(enc) == ["input_ids", "token_type_ids", "attention_mask"]
    for arr in enc.values():
        assert arr.shape == (2, 16) and arr.dtype == np.int32
    assert enc.input_ids[1].tolist()[:4] == [101, 10634, 102, 0]
    assert enc["attention_mask"].sum(axis=1).tolist() == [5, 3]


def test_single_text_gives_batch_of_one_or_flat_lists(tok):
    enc = tok("a fine film", padding="max_length", max_length=8, return_tensors="np")
    assert enc["input_ids"].shape == (1, 8)
    assert tok("a fine film")["input_ids"] == [101, 1037, 2986, 2143, 102]
    assert tok.encode("a fine film", "yes") == [101, 1037, 2986, 2143, 102, 2748, 102]


def test_pair_token_types_and_special_mask(tok):
    enc = tok("hello", "world", return_special_tokens_mask=True, padding="max_length",
              max_length=7, return_tensors="np")  # fmt: skip
    assert enc["token_type_ids"][0].tolist() == [0, 0, 0, 1, 1, 0, 0]
    assert enc["special_tokens_mask"][0].tolist() == [1, 0, 1, 0, 1, 1, 1]


def test_too_long_without_truncation_is_refused(tok):
    with pytest.raises(TokenizerError, match="more than max_length=4.*truncation"):
        tok("one two three four", padding="max_length", max_length=4)
    enc = tok("one two three four", padding="max_length", max_length=4, truncation=True)
    assert len(enc["input_ids"]) == 4


def test_empty_batch_and_bad_arguments_are_refused(tok):
    with pytest.raises(TokenizerError, match="empty batch"):
        tok([], padding="max_length", max_length=8)
    with pytest.raises(TokenizerError, match="unsupported keyword.*stride"):
        tok("x", stride=2)
    with pytest.raises(TokenizerError, match="return_tensors='pt'"):
        tok("x", return_tensors="pt")
    with pytest.raises(TokenizerError, match="padding='left'"):
        tok("x", padding="left")
    with pytest.raises(TokenizerError, match=r"text\[1\] is a int"):
        tok(["x", 3])
    with pytest.raises(TokenizerError, match="2 entries but text_pair has 1"):
        tok(["x", "y"], ["z"])
    with pytest.raises(TokenizerError, match="different lengths cannot be stacked"):
        tok(["x", "x y z"], return_tensors="np")
    with pytest.raises(TokenizerError, match="no room for the 3 special tokens"):
        tok("x y", "z w", truncation=True, max_length=2)


def test_padding_longest_and_model_max_length(tok):
    enc = tok(["x", "x y z"], padding=True, return_tensors="np")
    assert enc["input_ids"].shape == (2, 5)
    enc = tok(["word " * 600], truncation=True, padding="max_length", return_tensors="np")
    assert enc["input_ids"].shape == (1, tok.model_max_length) == (1, 512)


def test_missing_vocab_is_one_clear_error(tmp_path):
    for cls in CLASSES:
        with pytest.raises(TokenizerError, match="no tokenizer directory at .*nowhere"):
            cls.from_pretrained(tmp_path / "nowhere")
        with pytest.raises(TokenizerError, match="no vocabulary file at .*vocab.txt"):
            cls.from_pretrained(tmp_path)
        with pytest.raises(TokenizerError, match="no vocabulary file"):
            cls(tmp_path / "missing.txt")


def test_vocab_without_special_tokens_is_one_clear_error(tmp_path):
    write_vocab(tmp_path, ["[PAD]", "hello", "[SEP]", "world"])
    for cls in CLASSES:
        with pytest.raises(TokenizerError, match="cls_token='\\[CLS\\]', unk_token='\\[UNK\\]'"):
            cls.from_pretrained(tmp_path)
    (tmp_path / "vocab.txt").write_text("", encoding="utf-8")
    with pytest.raises(TokenizerError, match="is empty"):
        ConvBertTokenizer.from_pretrained(tmp_path)


def test_tokenizer_config_is_read_and_overridable(tmp_path):
    write_vocab(tmp_path, TINY + ["Hello"])
    config = {"do_lower_case": False, "model_max_length": 1e30, "unk_token": {"content": "[UNK]"}}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    for cls in CLASSES:
        tok = cls.from_pretrained(tmp_path)
        assert tok.tokenize("Hello hello") == ["Hello", "hello"]
        assert tok.model_max_length == 512  # transformers' "unset" 1e30 is ignored
        assert cls.from_pretrained(tmp_path, do_lower_case=True).tokenize("Hello") == ["hello"]
        with pytest.raises(TokenizerError, match="unknown tokenizer option"):
            cls.from_pretrained(tmp_path, lowercase=True)


def test_save_pretrained_round_trip(tmp_path, tok):
    written = tok.save_pretrained(tmp_path / "saved")
    names = sorted(p.rsplit("/", 1)[-1] for p in written)
    expected = ["special_tokens_map.json", "tokenizer_config.json", "vocab.txt"]
    if isinstance(tok, ConvBertTokenizerFast):
        expected = sorted(expected + ["tokenizer.json"])
    assert names == expected
    assert (tmp_path / "saved" / "vocab.txt").read_bytes() == default_vocab_path().read_bytes()
    again = type(tok).from_pretrained(tmp_path / "saved")
    text = "Ünïcode and 中文, twice!"
    assert again(text)["input_ids"] == tok(text)["input_ids"]
    (path,) = tok.save_vocabulary(tmp_path, filename_prefix="x")
    assert path.endswith("x-vocab.txt")


def test_fast_reads_tokenizer_json_with_config_overrides(tmp_path):
    ConvBertTokenizerFast().save_pretrained(tmp_path)
    (tmp_path / "vocab.txt").unlink()  # tokenizer.json alone must be enough for the fast one
    cased = ConvBertTokenizerFast.from_pretrained(tmp_path, do_lower_case=False)
    # The uncased vocabulary has no capitals: a cased "Hello" is unknown.
    assert cased.tokenize("hello Hello") == ["hello", "[UNK]"]
    assert ConvBertTokenizerFast.from_pretrained(tmp_path).tokenize("Hello") == ["hello"]
    (tmp_path / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(TokenizerError, match="cannot read .*tokenizer.json"):
        ConvBertTokenizerFast.from_pretrained(tmp_path)


def test_decode_round_trip(tok):
    ids = tok("Hello, world! Don't panic.")["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == "hello, world! don't panic."
    assert tok.decode(np.asarray(ids)) == "[CLS] hello, world! don't panic. [SEP]"
    assert tok.batch_decode([ids], skip_special_tokens=True) == ["hello, world! don't panic."]


def test_truncation_error_names_the_strategy(tok):
    with pytest.raises(TokenizerError, match="only_first"):
        tok("a", "b c d e f g", truncation="only_first", max_length=5)
    with pytest.raises(TokenizerError, match="needs a text_pair"):
        tok("a b c d e f", truncation="only_second", max_length=5)


def test_checkpoint_tokenizer_uses_the_directory_vocab_else_the_shipped_one(tmp_path):
    from convbert_edge.tokenizer import checkpoint_tokenizer

    assert checkpoint_tokenizer(tmp_path).vocab_size == 30522  # no vocab.txt: the shipped one
    assert checkpoint_tokenizer(None).vocab_size == 30522
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello"]
    (tmp_path / "vocab.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    tok = checkpoint_tokenizer(tmp_path)
    assert tok.vocab_size == len(words)
    assert tok.encode("hello world", padding="max_length", max_length=5) == [2, 5, 1, 3, 0]
