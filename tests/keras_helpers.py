"""Shared by the Keras stack tests: configs, checkpoints from transformers, inputs, oracles.

Checkpoints come from transformers' own PyTorch classes (its init, then every tensor
nudged by noise so biases and LayerNorms are not trivially 0 and 1), written with
save_pretrained. The PyTorch oracle runs in-process; transformers 4.57.6's TFConvBert*
(tf-keras) runs in one subprocess per batch of cases (tf_oracle_script.py), because its
import sets TF_USE_LEGACY_KERAS=1, which changes what tf.keras means in the process
that holds the Keras 3 models and the TFLite converter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from convbert_edge.config import ConvBertConfig
from convbert_edge.tasks import HF_ARCHITECTURES, OUTPUT_NAMES, Task

os.environ.setdefault("USE_TF", "0")  # transformers' PyTorch classes only, in this process

ALL_TASKS = tuple(Task)
HF_CLASS_NAMES = HF_ARCHITECTURES  # transformers class name per task
TF_ORACLE_SCRIPT = Path(__file__).with_name("tf_oracle_script.py")


def tiny(**overrides) -> ConvBertConfig:
    """A 2-layer config small enough for the unit suite (hidden 32, vocab 99)."""
    base = dict(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        embedding_size=32,
        max_position_embeddings=160,
        pad_token_id=0,
        conv_kernel_size=9,
        head_ratio=2,
        num_groups=1,
        id2label={0: "a", 1: "b", 2: "c"},
    )
    return ConvBertConfig(**{**base, **overrides})


# name -> config. The unit suite's configs cover each axis of the PyTorch issue once.
TINY_CONFIGS: dict[str, ConvBertConfig] = {
    "tiny": tiny(),
    "embedding_ne_hidden": tiny(embedding_size=16),
    "groups2": tiny(num_groups=2),
    "groups4_emb24": tiny(num_groups=4, embedding_size=24, hidden_size=48, intermediate_size=96),
    "head_ratio1": tiny(head_ratio=1),
    "head_ratio4": tiny(head_ratio=4, num_attention_heads=8),
    "heads_lt_ratio": tiny(num_attention_heads=1, head_ratio=2),
    "heads_lt_ratio4": tiny(num_attention_heads=2, head_ratio=4),
    "kernel3": tiny(conv_kernel_size=3),
    "kernel5_relu": tiny(conv_kernel_size=5, hidden_act="relu"),
    "gelu_new_untied": tiny(hidden_act="gelu_new", extra={"tie_word_embeddings": False}),
    "summary_first": tiny(summary_type="first"),
}


def public_shape(name: str) -> ConvBertConfig:
    """A public checkpoint's shape at 2 layers (full vocabulary)."""
    return ConvBertConfig.preset(name, num_hidden_layers=2, id2label={0: "neg", 1: "pos"})


def hf_class(task: Task):
    from transformers.models.convbert import modeling_convbert

    return getattr(modeling_convbert, HF_CLASS_NAMES[task])


def make_checkpoint(config: ConvBertConfig, task: Task, directory: Path, seed: int = 0) -> Path:
    """Save a transformers PyTorch model of ``task`` with random weights into ``directory``."""
    import torch
    from transformers.models.convbert.configuration_convbert import ConvBertConfig as HFConfig

    torch.manual_seed(seed)
    if task is Task.QUESTION_ANSWERING:  # transformers sizes qa_outputs by num_labels
        config = config.replace(id2label={0: "start", 1: "end"})
    hf_config = HFConfig(**config.to_dict())
    model = hf_class(task)(hf_config).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    model.save_pretrained(directory)
    return Path(directory)


def make_inputs(
    config: ConvBertConfig, batch: int, seq_len: int, seed: int = 0, choices: int | None = None
) -> dict[str, np.ndarray]:
    """int32 inputs whose rows after the first are padded (ids = pad id, mask = 0) at the end."""
    rng = np.random.default_rng(seed)
    rows = batch * (choices or 1)
    ids = rng.integers(1, config.vocab_size, size=(rows, seq_len), dtype=np.int32)
    mask = np.ones((rows, seq_len), np.int32)
    types = np.zeros((rows, seq_len), np.int32)
    for r in range(rows):
        length = seq_len - (r * seq_len) // (2 * rows)  # row 0 full, later rows shorter
        ids[r, length:] = config.pad_token_id or 0
        mask[r, length:] = 0
        types[r, length // 2 : length] = 1
    shape = (batch, choices, seq_len) if choices else (batch, seq_len)
    return {
        "input_ids": ids.reshape(shape),
        "attention_mask": mask.reshape(shape),
        "token_type_ids": types.reshape(shape),
    }


def padded_calls(
    config: ConvBertConfig, seq_len: int, seed: int, n: int, longest: int | None = None
) -> list[dict[str, np.ndarray]]:
    """``n`` single-text calls with real lengths between 4 and ``longest`` (default
    ``seq_len``), padded to ``seq_len``: calibration or training data at an export shape."""
    rng = np.random.default_rng(seed)
    calls = []
    for _ in range(n):
        length = int(rng.integers(4, (longest or seq_len) + 1))
        mask = (np.arange(seq_len) < length).astype(np.int32)[None]  # (1, seq_len)
        ids = rng.integers(1, config.vocab_size, (1, seq_len)).astype(np.int32) * mask
        calls.append({"input_ids": ids, "attention_mask": mask, "token_type_ids": 0 * mask})
    return calls


def pt_outputs(directory: Path, task: Task, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """transformers' PyTorch outputs of the checkpoint in ``directory``."""
    import torch

    model = hf_class(task).from_pretrained(directory).eval()
    with torch.no_grad():
        out = model(**{k: torch.from_numpy(v.astype(np.int64)) for k, v in inputs.items()})
    return {name: getattr(out, name).numpy() for name in OUTPUT_NAMES[task]}


def keras_outputs(model, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in model(inputs).items()}


def max_abs_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    """Per output name: max |a - b|; asserts both have the same names and shapes first."""
    assert sorted(a) == sorted(b), (sorted(a), sorted(b))
    for name in a:
        assert a[name].shape == b[name].shape, (name, a[name].shape, b[name].shape)
    return {name: float(np.max(np.abs(a[name] - b[name]))) for name in a}


def run_tf_oracle(cases: list[dict], workdir: Path) -> list[dict]:
    """Run transformers' TFConvBert* on each case in one subprocess.

    Each case: {"dir": checkpoint dir, "task": Task value, "inputs": .npz path}. Returns, per
    case, {"outputs": {name: array}} or {"error": "Type: message"}.
    """
    job = workdir / "tf_oracle_job.json"
    job.write_text(json.dumps(cases))
    # Both frameworks on "auto": TF for the model, torch to read the PyTorch checkpoint.
    env = {k: v for k, v in os.environ.items() if k not in ("USE_TF", "USE_TORCH")}
    env["TF_USE_LEGACY_KERAS"] = "1"
    proc = subprocess.run(
        [sys.executable, str(TF_ORACLE_SCRIPT), str(job)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((workdir / "tf_oracle_job.results.json").read_text())
    for result in results:
        if "outputs" in result:
            with np.load(result["outputs"]) as data:
                result["outputs"] = {k: data[k] for k in data.files}
    return results
