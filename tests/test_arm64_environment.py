"""`verify --device arm64` without building anything: the recipe's hashes, the cache of
built parts, the missing-tool errors, and the emulated run's plumbing (timeout, crash,
refusal, outputs) with a fake qemu that runs the staged code with the host's Python."""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from android_helpers import make_fake_artifact

from convbert_edge.errors import ArtifactError
from convbert_edge.runtime.arm64 import environment, runner
from convbert_edge.runtime.arm64.environment import (
    STAMP,
    Arm64Environment,
    Arm64Error,
    ensure_environment,
    ensure_part,
    part_dir,
)
from convbert_edge.runtime.arm64.recipe import WHEELS, Arm64Recipe, WheelSet
from convbert_edge.runtime.arm64.runner import Arm64Options, run_emulated, verify_on_arm64
from convbert_edge.runtime.golden import GoldenBundle
from convbert_edge.targets import Target
from convbert_edge.verify import main as verify_main


def test_each_part_hash_changes_only_with_its_own_fields():
    base = Arm64Recipe()
    wheels = dict(WHEELS)
    wheels[Target.EXECUTORCH] = WheelSet(("executorch==9.9.9",))
    changed = replace(base, wheels=wheels)
    assert changed.part_hash("wheels-executorch") != base.part_hash("wheels-executorch")
    for same in ("userland", "qemu", "wheels-tflite"):
        assert changed.part_hash(same) == base.part_hash(same)
    moved = replace(base, mirror="http://mirror.example/debian")
    assert moved.part_hash("userland") != base.part_hash("userland")
    assert moved.part_hash("wheels-tflite") == base.part_hash("wheels-tflite")
    assert Arm64Recipe().part_hash("qemu") == base.part_hash("qemu")  # stable across instances


def test_recipe_refuses_unpinned_wheels_and_unknown_parts():
    with pytest.raises(ValueError, match="pinned"):
        WheelSet(("torch>=2",))
    with pytest.raises(ValueError, match="unknown part"):
        Arm64Recipe().part("wheels-onnx")
    with pytest.raises(ValueError, match="no arm64 runtime for onnx"):
        Arm64Recipe().wheel_set(Target.ONNX)


def test_platforms_cover_every_manylinux_the_wheels_use():
    tags = Arm64Recipe().platforms()
    # ai-edge-litert is tagged 2_27, torch 2_28, the CUDA wheels 2_17 / manylinux2014.
    for tag in ("manylinux_2_27_aarch64", "manylinux_2_28_aarch64", "manylinux2014_aarch64"):
        assert tag in tags
    assert "manylinux_2_37_aarch64" not in tags  # newer than bookworm's glibc 2.36


def test_a_part_is_built_once_reused_and_rebuilt_when_its_recipe_changes(tmp_path):
    builds = []

    def build(d: Path) -> None:
        builds.append(d)
        (d / "payload").write_text("built")

    recipe = Arm64Recipe()
    first = ensure_part(tmp_path, recipe, "qemu", build, log=lambda _: None)
    again = ensure_part(tmp_path, recipe, "qemu", build, log=lambda _: None)
    assert first == again == part_dir(tmp_path, recipe, "qemu") and len(builds) == 1
    assert (first / STAMP).is_file() and (first / "payload").read_text() == "built"

    newer = replace(recipe, qemu=replace(recipe.qemu, sha256="0" * 64))
    second = ensure_part(tmp_path, newer, "qemu", build, log=lambda _: None)
    assert second != first and len(builds) == 2
    assert not first.exists()  # the stale part is removed


def test_an_interrupted_build_is_not_taken_for_a_finished_one(tmp_path):
    def fail(d: Path) -> None:
        (d / "half").write_text("")
        raise Arm64Error("network gone")

    recipe = Arm64Recipe()
    with pytest.raises(Arm64Error, match="network gone"):
        ensure_part(tmp_path, recipe, "userland", fail, log=lambda _: None)
    assert not part_dir(tmp_path, recipe, "userland").exists()
    built = ensure_part(tmp_path, recipe, "userland", lambda d: None, log=lambda _: None)
    assert (built / STAMP).is_file() and not (built / "half").exists()


def _no_tools(monkeypatch):
    monkeypatch.setattr(environment.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(environment.shutil, "which", lambda name: None)


def test_missing_tools_are_named_with_what_to_run_before_anything_is_built(tmp_path, monkeypatch):
    _no_tools(monkeypatch)
    with pytest.raises(Arm64Error) as err:
        ensure_environment(Target.TFLITE, Arm64Recipe(), tmp_path, log=lambda _: None)
    message = str(err.value)
    assert "root" in message and "apt-get install mmdebstrap arch-test" in message
    assert "dpkg-deb" in message and "docs/arm64.md" in message
    assert not (tmp_path / "arm64").exists() or not any((tmp_path / "arm64").glob("*-*"))


def test_a_built_environment_needs_no_root_and_no_tools(tmp_path, monkeypatch):
    recipe = Arm64Recipe()
    cache = tmp_path / "arm64"
    for name in ("userland", "qemu", "wheels-tflite"):
        d = part_dir(cache, recipe, name)
        d.mkdir(parents=True)
        (d / STAMP).write_text("{}")
    _no_tools(monkeypatch)
    env = ensure_environment(Target.TFLITE, recipe, tmp_path, log=lambda _: None)
    assert env.qemu == part_dir(cache, recipe, "qemu") / "qemu-aarch64"
    assert env.site == part_dir(cache, recipe, "wheels-tflite") / "site"
    assert env.command("x.py")[:2] == [str(env.qemu), "-L"]
    assert env.environ([tmp_path])["QEMU_CPU"] == "cortex-a76"


def test_cli_exits_2_with_the_missing_tools(tmp_path, monkeypatch, capsys):
    artifact = make_fake_artifact(tmp_path / "artifact")
    monkeypatch.setenv("CONVBERT_EDGE_CACHE", str(tmp_path / "cache"))
    _no_tools(monkeypatch)
    assert verify_main([str(artifact), "--device", "arm64"]) == 2
    err = capsys.readouterr().err
    assert "apt-get install mmdebstrap arch-test" in err and str(tmp_path / "cache") in err
    assert verify_main([str(artifact), "--device", "arm64", "--outputs", "x.npz"]) == 2


def test_a_changed_model_file_is_refused_before_emulation(tmp_path, monkeypatch):
    artifact = make_fake_artifact(tmp_path / "artifact")
    (artifact / "model.tflite").write_bytes(b"changed")
    monkeypatch.setattr(runner, "ensure_environment", pytest.fail)  # never reached
    with pytest.raises(ArtifactError, match="does not match its manifest"):
        verify_on_arm64(artifact, Arm64Options(cache_dir=tmp_path))


# A stand-in for qemu-aarch64: drops `-L ROOTFS PYTHON` and runs the rest with the host's
# Python in -S mode, so only PYTHONPATH (the staged code, then numpy's folder) is importable.
FAKE_QEMU = """#!/bin/sh
{before}
shift 3
exec {python} -S "$@"
"""


def fake_env(tmp_path: Path, before: str = "") -> Arm64Environment:
    qemu = tmp_path / "qemu-aarch64"
    qemu.write_text(FAKE_QEMU.format(before=before, python=sys.executable))
    qemu.chmod(qemu.stat().st_mode | stat.S_IEXEC)
    site = Path(np.__file__).resolve().parent.parent
    return Arm64Environment(qemu=qemu, rootfs=tmp_path, site=site, cpu="cortex-a76")


def _run(tmp_path, env, artifact, timeout_s=120.0):
    work = tmp_path / "work"
    work.mkdir()
    return run_emulated(env, artifact, work, Target.TFLITE, threads=1, timeout_s=timeout_s)


def test_the_staged_code_runs_alone_and_its_refusal_is_an_artifact_error(tmp_path):
    # The fake artifact's model file is a few bytes: the staged session must import and
    # load it without the project installed, and report LiteRT's refusal, not a traceback.
    artifact = make_fake_artifact(tmp_path / "artifact")
    with pytest.raises(ArtifactError, match="refused .*could not be loaded by the LiteRT"):
        _run(tmp_path, fake_env(tmp_path), artifact)


def test_outputs_written_inside_are_checked_here(tmp_path):
    artifact = make_fake_artifact(tmp_path / "artifact")
    golden = GoldenBundle.load(artifact / "golden.npz")
    np.savez(tmp_path / "canned.npz", **{f"output/{k}": v for k, v in golden.outputs.items()})
    env = fake_env(tmp_path, before=f'cp {tmp_path / "canned.npz"} "$6"; exit 0')
    outputs = _run(tmp_path, env, artifact)
    assert np.array_equal(np.load(outputs)["output/logits"], golden.outputs["logits"])


def test_a_crash_inside_is_an_error_not_a_signal_here(tmp_path):
    artifact = make_fake_artifact(tmp_path / "artifact")
    env = fake_env(tmp_path, before="kill -SEGV $$")
    with pytest.raises(Arm64Error, match="crashed with SIGSEGV"):
        _run(tmp_path, env, artifact)


def test_a_hang_inside_is_killed_at_the_timeout(tmp_path):
    artifact = make_fake_artifact(tmp_path / "artifact")
    pid_file = tmp_path / "sleep.pid"
    env = fake_env(tmp_path, before=f"sleep 600 & echo $! > {pid_file}; wait")
    with pytest.raises(Arm64Error, match="did not finish .* in 1 s"):
        _run(tmp_path, env, artifact, timeout_s=1.0)
    # The kill reached the whole process group: the child the runtime started too.
    stat_file = Path(f"/proc/{int(pid_file.read_text())}/stat")

    def gone() -> bool:
        try:
            return stat_file.read_text().split(") ")[1][0] == "Z"
        except OSError:
            return True

    deadline = time.monotonic() + 5.0  # SIGKILL is delivered asynchronously
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone()


def test_the_host_side_imports_neither_torch_nor_tensorflow():
    code = (
        "import sys, convbert_edge.runtime.arm64, convbert_edge.verify; "
        "heavy = {'torch', 'tensorflow', 'executorch', 'ai_edge_litert'} & set(sys.modules); "
        "print(sorted(heavy)); sys.exit(1 if heavy else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_emulated_script_runs_given_inputs_call_by_call(tmp_path, monkeypatch):
    from convbert_edge.runtime import session
    from convbert_edge.runtime.arm64 import emulated

    class Doubler:
        def run(self, feed):
            return {"logits": feed["input_ids"][:, :2].astype(np.float32) * 2}

    monkeypatch.setattr(session, "load", lambda directory, threads, isolate=True: Doubler())
    ids = np.arange(3 * 1 * 4, dtype=np.int32).reshape(3, 1, 4)  # (calls, batch, seq)
    np.savez(tmp_path / "in.npz", **{"input/input_ids": ids})
    out = tmp_path / "out.npz"
    assert emulated.main([str(tmp_path), str(out), "1", str(tmp_path / "in.npz")]) == 0
    logits = np.load(out)["output/logits"]
    assert logits.shape == (3, 1, 2) and np.array_equal(logits, ids[:, :, :2] * 2.0)
