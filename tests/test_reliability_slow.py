"""The slow half of the reliability guarantees (docs/reliability.md): kill -9 at random
moments of an export, and byte-mutation fuzz of .tflite and .pte files through verify."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from reliability_helpers import (
    copy_artifact,
    export_args,
    rehash_model,
    tree_digest,
)

from convbert_edge.export import main as export_main
from convbert_edge.exporters.artifact import MARKER_NAME
from convbert_edge.verify import main as verify_main

pytestmark = pytest.mark.slow

KILLS = 10
MUTANTS = 100


@pytest.fixture
def checkpoint(tiny_checkpoint_dir):
    return tiny_checkpoint_dir


def _export_process(checkpoint: Path, out: Path, seed: int) -> subprocess.Popen:
    # A different golden size each time, so that a new artifact differs from the old one.
    argv = export_args(checkpoint, out, "onnx", "--golden-samples", str(2 + seed % 3))
    return subprocess.Popen(
        [sys.executable, "-m", "convbert_edge.export", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _state(out: Path, previous: dict[str, str]) -> str:
    if not out.exists():
        return "absent"
    if tree_digest(out) == previous:
        return "previous"
    marker = json.loads((out / MARKER_NAME).read_text())
    assert marker["status"] == "verified", marker
    assert verify_main([str(out)]) == 0
    return "new verified"


def test_kill_9_at_random_moments_leaves_previous_or_new_verified_artifact(checkpoint, tmp_path):
    out = tmp_path / "art"
    mine = tmp_path / "mine.txt"
    mine.write_text("the user's")
    start = time.perf_counter()
    assert _export_process(checkpoint, out, 0).wait() == 0
    duration = time.perf_counter() - start
    rng = np.random.default_rng(18)
    states = Counter()
    for i in range(KILLS):
        previous = tree_digest(out)
        process = _export_process(checkpoint, out, i + 1)
        time.sleep(rng.uniform(0.2, duration))
        process.send_signal(signal.SIGKILL)
        process.wait()
        states[_state(out, previous)] += 1
        assert mine.read_text() == "the user's"
    print(f"export of {duration:.1f} s killed {KILLS} times: {dict(states)}")
    assert export_main(export_args(checkpoint, out)) == 0  # and it cleans up after the dead
    assert not list(tmp_path.glob(".*.partial")), list(tmp_path.glob(".*"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art", "mine.txt"]


def _mutate(artifact: Path, destination: Path, rng: np.random.Generator) -> Path:
    art = copy_artifact(artifact, destination)
    path = art / json.loads((art / "manifest.json").read_text())["model_file"]
    data = bytearray(path.read_bytes())
    for _ in range(int(rng.integers(1, 17))):
        data[int(rng.integers(len(data)))] = int(rng.integers(256))
    path.write_bytes(bytes(data))
    rehash_model(art)  # the mutation reaches the runtime, not just the sha256 check
    return art


@pytest.fixture(scope="module")
def int8_artifact(tiny_checkpoint_dir, tmp_path_factory):
    """target -> the tiny checkpoint's verified int8 artifact, exported on first use (once
    per module and worker)."""
    made: dict[str, Path] = {}

    def get(target: str) -> Path:
        if target not in made:
            out = tmp_path_factory.mktemp(target) / "original"
            assert export_main(export_args(tiny_checkpoint_dir, out, target, "--int8")) == 0
            made[target] = out
        return made[target]

    return get


# MUTANTS per target, in parts that pytest-xdist can run side by side (a .pte mutant costs a
# guarded child that imports torch: seconds each)
PARTS = 4


@pytest.mark.parametrize("part", range(PARTS))
@pytest.mark.parametrize("target", ["tflite", "executorch"])
def test_byte_mutation_fuzz_gives_only_contract_exit_codes(
    int8_artifact, tmp_path, target, part, capsys
):
    rng = np.random.default_rng((14 if target == "tflite" else 15, part))
    codes = Counter()
    start = time.perf_counter()
    for i in range(MUTANTS // PARTS):
        mutant = _mutate(int8_artifact(target), tmp_path / f"m{i}", rng)
        codes[verify_main([str(mutant)])] += 1
        said = capsys.readouterr()
        assert "Traceback" not in said.err + said.out
    seconds = time.perf_counter() - start
    print(f"{target} part {part}: {MUTANTS // PARTS} mutants in {seconds:.0f} s, {dict(codes)}")
    assert set(codes) <= {0, 1, 2}, codes
