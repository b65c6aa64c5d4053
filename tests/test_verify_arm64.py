"""`verify --device arm64` for real: tiny int8 artifacts run by the aarch64 LiteRT and
ExecuTorch under qemu-user, checked like the host's, compared with the host's outputs.

The environment is built in the toolkit's cache on first use (about a minute for LiteRT;
ExecuTorch downloads torch and the CUDA libraries it links, ~2.5 GB, and imports torch
under emulation: ~10 minutes cold, so it is marked arm64_executorch and runs in
`make test-arm64`). On a machine that cannot build it (not root, no mmdebstrap) and has
no built copy, these tests skip with the reason.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from convbert_edge.cache import cache_dir_for
from convbert_edge.config import ConvBertConfig
from convbert_edge.exporters.pipeline import ExportOptions, export
from convbert_edge.runtime.arm64.environment import (
    STAMP,
    arm64_cache,
    ensure_environment,
    missing_tools,
    part_dir,
)
from convbert_edge.runtime.arm64.recipe import Arm64Recipe
from convbert_edge.runtime.arm64.runner import run_emulated
from convbert_edge.runtime.manifest import sha256_file
from convbert_edge.runtime.metrics import compare_output
from convbert_edge.runtime.verify import read_outputs_file, run_golden
from convbert_edge.targets import Target
from convbert_edge.tasks import Task
from convbert_edge.torch_stack import model_class
from convbert_edge.verify import main as verify_main

pytestmark = pytest.mark.slow

TINY = dict(
    vocab_size=30522,
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
    embedding_size=32,
    pad_token_id=0,
    max_position_embeddings=64,
)
CACHE = cache_dir_for(None, os.environ)


def require_arm64(target: Target) -> None:
    recipe = Arm64Recipe()
    parts = ["userland", "qemu", f"wheels-{target.value}"]
    todo = [p for p in parts if not (part_dir(arm64_cache(CACHE), recipe, p) / STAMP).is_file()]
    missing = missing_tools(todo)
    if missing:
        pytest.skip("cannot build the arm64 environment here: " + "; ".join(missing))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = model_class(Task.SEQUENCE_CLASSIFICATION)(
        ConvBertConfig(**TINY, id2label={0: "neg", 1: "pos"})
    )
    return model.save_pretrained(tmp_path_factory.mktemp("ckpt") / "tiny")


def export_int8(checkpoint, out: Path, target: str) -> Path:
    options = ExportOptions(
        target=target,
        quantization="int8",
        model=str(checkpoint),
        task=Task.SEQUENCE_CLASSIFICATION,
        seq_len=32,
        golden_samples=4,
        calibration_samples=16,
        out=out,
    )
    result = export(options, log=lambda _: None)
    assert result.verify.passed, result.verify.table()
    return Path(result.directory)


@pytest.fixture(scope="module")
def tflite_int8(checkpoint, tmp_path_factory):
    return export_int8(checkpoint, tmp_path_factory.mktemp("art") / "tflite-int8", "tflite")


def test_tflite_int8_passes_on_arm64_and_matches_the_host(tflite_int8, tmp_path, capsys):
    require_arm64(Target.TFLITE)
    assert verify_main([str(tflite_int8), "--device", "arm64"]) == 0
    out = capsys.readouterr().out
    assert "logits" in out and "sqnr_dB" in out and out.rstrip().endswith("PASS")

    # The aarch64 kernels' outputs beside x86's: int8 rounding may differ by an output
    # step, never by a different answer.
    env = ensure_environment(Target.TFLITE, Arm64Recipe(), CACHE, log=lambda _: None)
    outputs = run_emulated(env, tflite_int8, tmp_path, Target.TFLITE, threads=2, timeout_s=600)
    arm = read_outputs_file(outputs)["logits"]
    host = run_golden(tflite_int8)["logits"]
    m = compare_output("logits", host, arm)
    assert m.argmax_agreement == 1.0 and m.sqnr_db >= 30.0, m


def test_a_corrupt_tflite_is_exit_2_with_a_message_on_arm64(tflite_int8, tmp_path, capsys):
    require_arm64(Target.TFLITE)
    # Truncated, with the manifest's sha256 updated so the runtime itself must refuse it.
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in tflite_int8.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    model = bad / "model.tflite"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["model_sha256"] = sha256_file(model)
    (bad / "manifest.json").write_text(json.dumps(manifest))
    assert verify_main([str(bad), "--device", "arm64"]) == 2
    err = capsys.readouterr().err
    assert "aarch64 LiteRT runtime refused" in err and "model.tflite" in err


@pytest.mark.arm64_executorch
def test_executorch_int8_passes_on_arm64(checkpoint, tmp_path, capsys):
    require_arm64(Target.EXECUTORCH)
    pte = export_int8(checkpoint, tmp_path / "et-int8", "executorch")
    assert verify_main([str(pte), "--device", "arm64"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("PASS")
