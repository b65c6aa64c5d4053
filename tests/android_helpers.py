"""A small artifact directory with no real model behind it, for the Android-side tests.

Verify with an outputs file never runs the model, only checks its sha256, so a few bytes
stand in for model.tflite; the golden bundle holds real-text inputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from convbert_edge.runtime.golden import GoldenBundle
from convbert_edge.runtime.manifest import GOLDEN_NAME, Manifest, TensorSpec, sha256_file
from convbert_edge.runtime.tolerances import tolerance_for
from convbert_edge.tokenizer import ConvBertTokenizerFast

TEXTS = ["a fine, moving film", "dull and far too long", "Café naïve — 我爱电影"]
SEQ = 16


def make_fake_artifact(directory: Path, texts: list[str] = TEXTS, seq_len: int = SEQ) -> Path:
    """A tflite/int8 sequence-classification artifact: one call per text, logits (1, 2)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.tflite").write_bytes(b"not a model: verify --outputs never runs it")
    tok = ConvBertTokenizerFast.from_pretrained(None)
    tok.save_pretrained(directory)
    enc = tok(texts, padding="max_length", truncation=True, max_length=seq_len, return_tensors="np")
    names = ("input_ids", "attention_mask", "token_type_ids")
    inputs = {n: np.asarray(enc[n], np.int32)[:, None, :] for n in names}  # (calls, 1, seq)
    logits = np.random.default_rng(0).normal(size=(len(texts), 1, 2)).astype(np.float32)
    GoldenBundle(
        inputs=inputs,
        outputs={"logits": logits},
        tolerance=tolerance_for("tflite", "int8"),
        texts=list(texts),
    ).save(directory / GOLDEN_NAME)
    manifest = Manifest(
        task="sequence-classification",
        target="tflite",
        quantization="int8",
        model_file="model.tflite",
        model_sha256=sha256_file(directory / "model.tflite"),
        golden_sha256=sha256_file(directory / GOLDEN_NAME),
        seq_len=seq_len,
        batch=1,
        inputs=[TensorSpec(n, "int32", (1, seq_len)) for n in names],
        outputs=[TensorSpec("logits", "float32", (1, 2))],
        labels=["negative", "positive"],
    )
    (directory / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    return directory
