"""Movie-review sentiment: 10,568 Rotten Tomatoes snippets with human valence ratings.

The snippets of Hutto & Gilbert (ICWSM 2014) ship in the vaderSentiment 3.3.2 sdist
(MIT licence): additional_resources/hutto_ICWSM_2014.tar.gz ->
movieReviewSnippets_GroundTruth.txt, tab-separated ``id, valence, text`` (valence is the
mean rating, -4..4). The label is ``valence > 0``. The file has 10,605 rows; 37 have
valence exactly 0 (neither positive nor negative) and are dropped.

The split is fixed: examples are ordered by sha256(f"{seed}:{id}") and cut 80/10/10,
so it depends on no library's random number generator and never changes for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from convbert_edge.data.fetch import (
    DataError,
    Downloader,
    PackagedFile,
    PackageSource,
    fetch_file,
    pip_download,
)
from convbert_edge.data.splits import hashed_split

MOVIE_REVIEWS = PackagedFile(
    source=PackageSource(
        package="vaderSentiment",
        version="3.3.2",
        filename="vaderSentiment-3.3.2.tar.gz",
        sha256="5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
        sdist=True,
    ),
    members=(
        "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz",
        "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt",
    ),
    sha256="c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350",
)

LABELS = ("negative", "positive")
SPLIT_SEED = 0
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


@dataclass(frozen=True)
class SentimentExample:
    """One snippet: its id in the source file, text, mean valence and 0/1 label."""

    id: int
    text: str
    valence: float
    label: int  # 1 = positive (valence > 0), 0 = negative


@dataclass(frozen=True)
class SentimentSplits:
    """The fixed train/dev/test split (about 8,454 / 1,057 / 1,057 examples)."""

    train: list[SentimentExample]
    dev: list[SentimentExample]
    test: list[SentimentExample]


def parse_movie_reviews(text: str, source: str = "movieReviewSnippets_GroundTruth.txt"):
    """Examples of the ground-truth file, in file order; valence-0 rows are dropped."""
    examples: list[SentimentExample] = []
    # Split on "\n" only: str.splitlines would also break on characters inside a snippet.
    for line_no, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise DataError(f"{source} line {line_no}: expected 3 tab-separated fields")
        try:
            ident, valence = int(fields[0]), float(fields[1])
        except ValueError:
            raise DataError(f"{source} line {line_no}: id or valence is not a number") from None
        if valence == 0:
            continue
        examples.append(SentimentExample(ident, fields[2], valence, int(valence > 0)))
    return examples


def load_movie_reviews(
    cache_dir: str | Path | None = None, download: Downloader = pip_download
) -> list[SentimentExample]:
    """All 10,568 labelled snippets, in file order (fetched into cache_dir on first use)."""
    path = fetch_file(MOVIE_REVIEWS, cache_dir, download)
    # Bytes, not read_text: universal newlines would also split rows at a lone "\r".
    return parse_movie_reviews(path.read_bytes().decode("utf-8"), str(path))


def split_examples(
    examples: list[SentimentExample],
    seed: int = SPLIT_SEED,
    fractions: tuple[float, float, float] = SPLIT_FRACTIONS,
) -> SentimentSplits:
    """A seeded, order-independent train/dev/test split by hashed id."""
    if len(fractions) != 3:
        raise DataError(f"fractions must be three positive numbers summing to 1, got {fractions}")
    train, dev, test = hashed_split(examples, seed, fractions)
    return SentimentSplits(train=train, dev=dev, test=test)


def load_movie_review_splits(
    cache_dir: str | Path | None = None, seed: int = SPLIT_SEED
) -> SentimentSplits:
    """The fixed split of the movie-review snippets.

    Example:
        >>> splits = load_movie_review_splits()
        >>> len(splits.test), splits.test[0].label in (0, 1)
        (1057, True)
    """
    return split_examples(load_movie_reviews(cache_dir), seed)
