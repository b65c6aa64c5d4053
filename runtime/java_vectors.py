"""Golden vectors for the Java core of the Android app (android_demo/core).

The JVM tests check the Java tokenizer and metrics against this Python side: the ids
ConvBertTokenizerFast gives for real sentences and hard cases, and compare_output's
values on arrays with known properties. Everything is written as .npz, the format the
Java core reads anyway (golden.npz), so there is no second file format to keep in sync.

Files in the output directory:
    vocab.txt, tokenizer_config.json   the tokenizer, as an artifact ships it
    tokenizer_sentences.npz            texts, input_ids, attention_mask, token_type_ids
    tokenizer_hard_cases.npz           the same for HARD_CASES
    metric_vectors.npz                 reference/K, actual/K (float32) and metrics/K
                                       (float64: max_abs, mean_abs, cosine, sqnr_db,
                                       argmax_agreement)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from convbert_edge.io_utils import atomic_write
from convbert_edge.tasks import INPUT_NAMES

from .metrics import compare_output

METRIC_FIELDS = ("max_abs", "mean_abs", "cosine", "sqnr_db", "argmax_agreement")

# Texts where a tokenizer is most likely to differ: accents and case, CJK, punctuation
# of every kind, whitespace and control characters, special tokens written in the text,
# words past WordPiece's 100-character limit, and text longer than max_length.
HARD_CASES: tuple[str, ...] = (
    "",
    "   \t\n  ",
    "Café, naïve résumé; ÉCOLE — Ångström.",
    "İstanbul ΟΔΟΣ straße ǅemal ﬁne",
    "我爱这部电影! 日本語のテキスト and 한국어 영화",
    "Wait...what?!—really?? (yes) [no] {maybe} <ok> \"quoted\" 'single'",
    "don't won't y'all rock'n'roll e-mail co-op",
    "¡Hola! ¿Qué tal? «bien» „gut“ ‘fine’ “great” …",
    "$100 & 50% off @home #1 ~tilde^ `tick` |pipe| \\back/slash_under",
    "zero\u200bwidth\u00a0nbsp\u3000ideographic\u2028line\x85next",
    "nul\x00char bell\x07 replacement\ufffd tab\tnewline\ncr\r",
    "combining e\u0301 a\u0308 n\u0303 and precomposed é ä ñ",
    "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ １２３ and emoji 😀🎬👍",
    "Ελληνικά Русский текст العربية हिन्दी ภาษาไทย עברית",
    "hello [SEP] world [MASK] [cls] [UNK][PAD]",
    "x" * 101 + " " + "y" * 100 + " supercalifragilisticexpialidocious",
    " ".join(["long"] * 200),
    "numbers 3.14159 1,000,000 2nd 21st 1990s 10x",
    "private\ue000use rtl\u200fmark\u202eoverride \x1c\x1d\x1e\x1f seps \x7f del",
)


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    return atomic_write(path, write)


def write_tokenizer_vectors(
    path: str | Path, texts: Sequence[str], tokenizer, max_length: int = 128
) -> Path:
    """The tokenizer's ids for ``texts`` (padding="max_length", truncation=True)."""
    enc = tokenizer(
        list(texts),
        padding="max_length",
        truncation=True,
        max_length=max_length,
        return_tensors="np",
    )
    arrays = {"texts": np.asarray(list(texts), dtype=np.str_)}
    for key in INPUT_NAMES:
        arrays[key] = np.asarray(enc[key], np.int32)
    return _save_npz(Path(path), arrays)


def metric_cases(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(reference, actual) pairs covering each branch of compare_output."""
    rng = np.random.default_rng(seed)
    cases = []
    for shape, noise in (((4, 2), 0.01), ((3, 16, 8), 0.3), ((2, 128, 30), 1.0), ((5,), 0.1)):
        ref = rng.normal(size=shape).astype(np.float32)
        cases.append((ref, (ref + noise * rng.normal(size=shape)).astype(np.float32)))
    ref = rng.normal(size=(2, 3)).astype(np.float32)
    cases.append((ref, ref.copy()))  # identical: sqnr +inf
    cases.append((np.zeros((2, 3), np.float32), np.ones((2, 3), np.float32)))  # no signal
    cases.append((np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32)))  # both zero
    nan = ref.copy()
    nan[1, 2] = np.nan
    cases.append((ref, nan))  # non-finite output
    ties = np.array([[1, 1, 0], [0, 2, 2], [3, 3, 3]], np.float32)
    cases.append((ties, ties[:, ::-1].copy()))  # argmax ties: the first maximum counts
    big = (1e4 * rng.normal(size=(8, 64))).astype(np.float32)
    cases.append((big, (big * 0.9 + 1.0).astype(np.float32)))
    return cases


def write_metric_vectors(path: str | Path, seed: int = 0) -> Path:
    """metric_cases with compare_output's values for each."""
    arrays: dict[str, np.ndarray] = {}
    for k, (ref, out) in enumerate(metric_cases(seed)):
        m = compare_output(f"case{k}", ref, out)
        arrays[f"reference/{k}"] = ref
        arrays[f"actual/{k}"] = out
        arrays[f"metrics/{k}"] = np.asarray([getattr(m, f) for f in METRIC_FIELDS], np.float64)
    return _save_npz(Path(path), arrays)


def write_java_vectors(
    directory: str | Path,
    sentences: Sequence[str] | None = None,
    max_length: int = 128,
    *,
    tokenizer,
) -> Path:
    """Every vector file the JVM tests read, into ``directory``.

    Args:
        sentences: real text (the tests use the movie-review snippets); None writes no
            tokenizer_sentences.npz, and the JVM suite skips that test.
        tokenizer: a ConvBertTokenizerFast (``ConvBertTokenizerFast.from_pretrained(None)``
            is the shipped uncased vocabulary). Passed in: the runtime imports no
            tokenizer code (tests/test_architecture.py), since verifying needs none.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(directory)
    if sentences is not None:
        write_tokenizer_vectors(
            directory / "tokenizer_sentences.npz", sentences, tokenizer, max_length
        )
    hard = directory / "tokenizer_hard_cases.npz"
    write_tokenizer_vectors(hard, HARD_CASES, tokenizer, max_length)
    write_metric_vectors(directory / "metric_vectors.npz")
    return directory
