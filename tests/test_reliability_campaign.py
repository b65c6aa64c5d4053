"""The bad-input campaign of docs/reliability.md: broken checkpoints, flags, artifacts,
golden bundles and outputs files, each given to the CLI the way a user would.

Every case must end with the exit code of the contract (convbert_edge/cli.py: 2 broken
input, 1 outside tolerance), a message that names the file, flag or field, and no
traceback. (tests/test_reliability.py holds the cases that need more than one step;
tests/test_reliability_inputs.py the runtime inputs and texts.)
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from reliability_helpers import (
    copy_artifact,
    edit_manifest,
    export_args,
    golden_arrays,
    rehash_model,
    write_golden,
)

from convbert_edge.export import main as export_main
from convbert_edge.verify import main as verify_main


@dataclass(frozen=True)
class Case:
    """One bad input: ``setup(tmp, checkpoint, artifact)`` returns the CLI's arguments."""

    cli: Callable[[list[str]], int]
    setup: Callable[[Path, Path, Path], list[str]]
    exit: int
    says: tuple[str, ...]


def _ckpt(tmp: Path, ckpt: Path, change: Callable[[Path], None]) -> Path:
    import shutil

    broken = tmp / "ckpt"
    shutil.copytree(ckpt, broken)
    change(broken)
    return broken


def _export(tmp, ckpt, *flags, change=None):
    model = _ckpt(tmp, ckpt, change) if change else ckpt
    return export_args(model, tmp / "out", "onnx", *flags)


def _weights(edit):
    def change(d: Path) -> None:
        from safetensors.numpy import load_file, save_file

        tensors = load_file(d / "model.safetensors")
        edit(tensors)
        save_file(tensors, d / "model.safetensors")

    return change


def _first(tensors, suffix):
    return next(k for k in tensors if k.endswith(suffix))


class _Payload:  # what a malicious pytorch_model.bin would run when unpickled
    def __reduce__(self):
        return (Path.touch, (Path("/tmp/convbert_edge_pickle_ran"),))


def _pickle_bin(d: Path) -> None:
    (d / "model.safetensors").unlink()
    with open(d / "pytorch_model.bin", "wb") as f:
        pickle.dump({"weight": _Payload()}, f)


def _artifact(tmp, art, change) -> list[str]:
    broken = copy_artifact(art, tmp / "art")
    change(broken)
    return [str(broken)]


def _outputs(tmp, art, arrays) -> list[str]:
    path = tmp / "outputs.npz"
    if isinstance(arrays, bytes):
        path.write_bytes(arrays)
    else:
        np.savez(path, **arrays)
    return [str(art), "--outputs", str(path)]


def _golden(edit):
    def change(d: Path) -> None:
        write_golden(d, edit(golden_arrays(d)))

    return change


E, V = export_main, verify_main
CASES: dict[str, Case] = {
    # -- checkpoints
    "ckpt-missing-dir": Case(E, lambda t, c, a: export_args(t / "nope", t / "o"), 2,
                             ("no checkpoint directory", "nope")),
    "ckpt-is-a-file": Case(E, lambda t, c, a: export_args(c / "config.json", t / "o"), 2,
                           ("is a file",)),
    "ckpt-no-config": Case(E, lambda t, c, a: _export(
        t, c, change=lambda d: (d / "config.json").unlink()), 2, ("config.json",)),
    "ckpt-config-not-json": Case(E, lambda t, c, a: _export(
        t, c, change=lambda d: (d / "config.json").write_text("{oops")), 2, ("config.json",)),
    "ckpt-config-a-list": Case(E, lambda t, c, a: _export(
        t, c, change=lambda d: (d / "config.json").write_text("[1, 2]")), 2, ("config.json",)),
    "ckpt-config-bad-hidden": Case(E, lambda t, c, a: _export(t, c, change=lambda d: (
        d / "config.json").write_text(json.dumps({**json.loads((d / "config.json").read_text()),
                                                  "hidden_size": -4}))), 2, ("hidden_size",)),
    "ckpt-no-weights": Case(E, lambda t, c, a: _export(
        t, c, change=lambda d: (d / "model.safetensors").unlink()), 2, ("model.safetensors",)),
    "ckpt-weights-truncated": Case(E, lambda t, c, a: _export(t, c, change=lambda d: (
        d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:1000])),
        2, ("model.safetensors",)),
    "ckpt-weights-random": Case(E, lambda t, c, a: _export(t, c, change=lambda d: (
        d / "model.safetensors").write_bytes(np.random.default_rng(1).bytes(4096))),
        2, ("model.safetensors",)),
    "ckpt-weight-missing": Case(E, lambda t, c, a: _export(t, c, change=_weights(
        lambda w: w.pop(_first(w, "classifier.out_proj.weight")))), 2, ("out_proj.weight",)),
    "ckpt-weight-wrong-shape": Case(E, lambda t, c, a: _export(t, c, change=_weights(
        lambda w: w.update({_first(w, "word_embeddings.weight"): np.zeros((5, 3), np.float32)}))),
        2, ("word_embeddings.weight",)),
    "ckpt-pickle-bin-refused": Case(E, lambda t, c, a: _export(t, c, change=_pickle_bin), 2,
                                    ("pytorch_model.bin",)),
    "ckpt-vocab-wrong-size": Case(E, lambda t, c, a: _export(t, c, change=lambda d: (
        d / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhi\n")), 2,
        ("vocabulary has 6 tokens",)),
    "ckpt-hub-id-offline": Case(E, lambda t, c, a: export_args(
        Path("nobody-here/conv-bert-nothing"), t / "o"), 2, ("nobody-here/conv-bert-nothing",)),
    # -- flags
    "flag-unknown-target": Case(E, lambda t, c, a: ["--target", "coreml"], 2, ("--target",)),
    "flag-unknown-task": Case(E, lambda t, c, a: _export(t, c, "--task", "poetry"), 2,
                              ("--task",)),
    "flag-quant-not-offered": Case(E, lambda t, c, a: _export(t, c, "--quant", "fp16"), 2,
                                   ("onnx does not offer fp16",)),
    "flag-batch-zero": Case(E, lambda t, c, a: _export(t, c, "--batch", "0"), 2, ("batch",)),
    "flag-seq-len-tiny": Case(E, lambda t, c, a: _export(t, c, "--seq-len", "4"), 2,
                              ("seq_len 4",)),
    "flag-seq-len-huge": Case(E, lambda t, c, a: _export(t, c, "--seq-len", "65"), 2,
                              ("--seq-len 65", "max_position_embeddings")),
    "flag-golden-zero": Case(E, lambda t, c, a: _export(t, c, "--golden-samples", "0"), 2,
                             ("golden_samples",)),
    "flag-threads-zero": Case(E, lambda t, c, a: _export(t, c, "--threads", "0"), 2,
                              ("threads",)),
    "flag-seq-len-not-int": Case(E, lambda t, c, a: _export(t, c, "--seq-len", "long"), 2,
                                 ("--seq-len",)),
    "flag-calibration-missing-file": Case(E, lambda t, c, a: _export(
        t, c, "--calibration", str(t / "texts.txt")), 2, ("texts.txt",)),
    "flag-calibration-unknown-name": Case(E, lambda t, c, a: _export(
        t, c, "--calibration", "tweets_2031"), 2, ("tweets_2031",)),
    "flag-qat-with-fp32": Case(E, lambda t, c, a: _export(t, c, "--qat"), 2, ("--qat",)),
    "flag-qat-for-onnx": Case(E, lambda t, c, a: _export(t, c, "--int8", "--qat"), 2,
                              ("QAT is offered for",)),
    "flag-qat-steps-zero": Case(E, lambda t, c, a: export_args(c, t / "o", "tflite", "--int8",
                                "--qat", "--qat-steps", "0"), 2, ("qat_steps",)),
    "flag-qat-lr-zero": Case(E, lambda t, c, a: export_args(c, t / "o", "tflite", "--int8",
                             "--qat", "--qat-lr", "0"), 2, ("qat_lr",)),
    "flag-max-drop-negative": Case(E, lambda t, c, a: export_args(
        c, t / "o", "tflite", "--int8", "--max-accuracy-drop", "-1"), 2, ("max_accuracy_drop",)),
    "flag-max-drop-with-fp32": Case(E, lambda t, c, a: _export(
        t, c, "--max-accuracy-drop", "1"), 2, ("--max-accuracy-drop",)),
    "flag-scope-for-executorch": Case(E, lambda t, c, a: export_args(
        c, t / "o", "executorch", "--int8", "--int8-scope", "linear"), 2, ("--int8-scope",)),
    "flag-out-is-checkpoint": Case(E, lambda t, c, a: export_args(c, c), 2, ("--out",)),
    # -- artifacts
    "art-no-such-dir": Case(V, lambda t, c, a: [str(t / "gone")], 2, ("gone", "manifest.json")),
    "art-empty-dir": Case(V, lambda t, c, a: [str(t)], 2, ("manifest.json",)),
    "art-model-missing": Case(V, lambda t, c, a: _artifact(
        t, a, lambda d: (d / "model.onnx").unlink()), 2, ("model.onnx", "missing")),
    "art-model-truncated": Case(V, lambda t, c, a: _artifact(t, a, lambda d: (
        d / "model.onnx").write_bytes((d / "model.onnx").read_bytes()[:500])), 2,
        ("model.onnx", "does not match")),
    "art-model-random-rehashed": Case(V, lambda t, c, a: _artifact(t, a, lambda d: (
        (d / "model.onnx").write_bytes(np.random.default_rng(2).bytes(20000)),
        rehash_model(d))), 2, ("could not be loaded",)),
    "art-manifest-not-json": Case(V, lambda t, c, a: _artifact(
        t, a, lambda d: (d / "manifest.json").write_text("{")), 2, ("manifest.json", "JSON")),
    "art-manifest-wrong-model-file": Case(V, lambda t, c, a: _artifact(
        t, a, lambda d: edit_manifest(d, model_file="model.tflite")), 2, ("model_file",)),
    "art-manifest-unknown-target": Case(V, lambda t, c, a: _artifact(
        t, a, lambda d: edit_manifest(d, target="coreml")), 2, ("coreml",)),
    "art-manifest-output-no-scale": Case(V, lambda t, c, a: _artifact(t, a, lambda d: (
        edit_manifest(d, outputs=[{"name": "logits", "dtype": "int8", "shape": [1, 2]}]))), 2,
        ("outputs[0].scale",)),
    "art-manifest-negative-shape": Case(V, lambda t, c, a: _artifact(t, a, lambda d: (
        edit_manifest(d, inputs=[{"name": "input_ids", "dtype": "int32", "shape": [1, -16]}]))),
        2, ("inputs[0].shape",)),
    "art-golden-missing": Case(V, lambda t, c, a: _artifact(
        t, a, lambda d: (d / "golden.npz").unlink()), 2, ("golden.npz",)),
    "art-golden-not-npz": Case(V, lambda t, c, a: _artifact(t, a, lambda d: (
        (d / "golden.npz").write_bytes(b"PK not a zip"),
        edit_manifest(d, golden_sha256=__import__("hashlib").sha256(b"PK not a zip").hexdigest()))),
        2, ("golden.npz",)),
    "art-golden-float-inputs": Case(V, lambda t, c, a: _artifact(t, a, _golden(lambda g: {
        **g, "input/input_ids": g["input/input_ids"].astype(np.float32)})), 2,
        ("input 'input_ids'",)),
    "art-golden-missing-input": Case(V, lambda t, c, a: _artifact(t, a, _golden(lambda g: {
        k: v for k, v in g.items() if k != "input/token_type_ids"})), 2, ("golden inputs",)),
    # -- outputs files (a phone's, or anyone's)
    "out-missing": Case(V, lambda t, c, a: [str(a), "--outputs", str(t / "none.npz")], 2,
                        ("none.npz",)),
    "out-junk": Case(V, lambda t, c, a: _outputs(t, a, b"not an npz"), 2, ("outputs.npz",)),
    "out-no-output-keys": Case(V, lambda t, c, a: _outputs(t, a, {"logits": np.zeros(2)}), 2,
                               ("output/<name>",)),
    "out-strings": Case(V, lambda t, c, a: _outputs(t, a, {"output/logits": np.asarray(["a"])}),
                        2, ("output 'logits'",)),
    "out-wrong-name": Case(V, lambda t, c, a: _outputs(
        t, a, {"output/probs": np.zeros((3, 1, 2), np.float32)}), 1, ("logits", "missing")),
    "out-nan": Case(V, lambda t, c, a: _outputs(
        t, a, {"output/logits": np.full((3, 1, 2), np.nan, np.float32)}), 1, ("logits",)),
    "out-and-device": Case(V, lambda t, c, a: [str(a), "--outputs", "x.npz", "--device", "adb"],
                           2, ("--device or --outputs",)),
    "out-unknown-device": Case(V, lambda t, c, a: [str(a), "--device", "bluetooth"], 2,
                               ("bluetooth",)),
    "verify-threads-negative": Case(V, lambda t, c, a: [str(a), "--threads", "-3"], 2,
                                    ("threads",)),
}  # fmt: skip


@pytest.fixture
def checkpoint(tiny_checkpoint_dir):
    return tiny_checkpoint_dir


@pytest.fixture
def artifact(tiny_onnx_artifact):
    return tiny_onnx_artifact


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_ends_by_the_contract(name, checkpoint, artifact, tmp_path, capsys):
    case = CASES[name]
    argv = case.setup(tmp_path, checkpoint, artifact)
    before = sorted(p.name for p in checkpoint.iterdir())
    try:
        code = case.cli(argv)
    except SystemExit as exit_:  # argparse's own refusals
        code = exit_.code
    captured = capsys.readouterr()
    said = captured.err + captured.out
    assert "Traceback" not in said, said
    assert code == case.exit, said
    for fragment in case.says:
        assert fragment in said, said
    assert sorted(p.name for p in checkpoint.iterdir()) == before
    assert not Path("/tmp/convbert_edge_pickle_ran").exists(), "a pickle was run"
