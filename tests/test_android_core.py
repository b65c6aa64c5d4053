"""The Android app's plain-Java core, on the JVM, against the Python side.

The Python side writes vectors (convbert_edge.runtime.java_vectors); the Java suite
(android_demo/core/src/test/.../CoreTests.java, a plain runner needing only a JDK) checks
its tokenizer ids and metrics against them, and runs verify mode on a golden bundle the
Python side wrote; the outputs.npz it writes is then checked by runtime/verify.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from android_helpers import make_fake_artifact

from convbert_edge.runtime.java_vectors import write_java_vectors
from convbert_edge.runtime.verify import verify_artifact
from convbert_edge.tokenizer import ConvBertTokenizerFast

CORE = Path(__file__).resolve().parents[1] / "android_demo" / "core"
RUNNER = "org.convbertedge.core.CoreTests"

pytestmark = pytest.mark.skipif(
    shutil.which("javac") is None or shutil.which("java") is None,
    reason="no JDK on PATH (javac and java 17+): the Java core tests need one",
)


@pytest.fixture(scope="module")
def classes(tmp_path_factory) -> Path:
    """The core and its tests, compiled with javac (warnings are errors)."""
    out = tmp_path_factory.mktemp("java-classes")
    sources = sorted(str(p) for p in CORE.glob("src/*/java/**/*.java"))
    subprocess.run(
        [
            *"javac -Xlint:all -Werror --release 11 -encoding UTF-8".split(),
            "-d",
            str(out),
            *sources,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return out


def run_suite(classes: Path, *args: Path) -> tuple[int, str]:
    proc = subprocess.run(
        ["java", "-cp", str(classes), RUNNER, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.returncode, proc.stdout + proc.stderr


def closing_line(output: str) -> tuple[int, int]:
    m = re.search(r"^(\d+) passed, (\d+) failed$", output, re.MULTILINE)
    assert m, output
    return int(m.group(1)), int(m.group(2))


@pytest.fixture(scope="module")
def tokenizer() -> ConvBertTokenizerFast:
    return ConvBertTokenizerFast.from_pretrained(None)  # the shipped uncased vocabulary


def test_java_core_matches_python(classes, tokenizer, tmp_path):
    vectors = write_java_vectors(tmp_path / "vectors", tokenizer=tokenizer)
    artifact = make_fake_artifact(tmp_path / "artifact")
    code, output = run_suite(classes, vectors, artifact)
    assert code == 0, output
    assert closing_line(output) == (8, 0), output
    assert "PASS tokenizer_hard_cases: 19 texts, 0 mismatches" in output
    # What the Java verify mode wrote is what runtime/verify.py reads.
    result = verify_artifact(artifact, outputs_file=artifact / "verify" / "outputs.npz")
    assert result.passed, result.table()
    assert result.metrics[0].max_abs == 0.0


def test_java_suite_fails_on_a_wrong_id(classes, tokenizer, tmp_path):
    vectors = write_java_vectors(tmp_path / "vectors", tokenizer=tokenizer)
    path = vectors / "tokenizer_hard_cases.npz"
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["input_ids"][2, 1] += 1
    np.savez(path, **arrays)
    code, output = run_suite(classes, vectors)
    assert code == 1
    assert "FAIL tokenizer_hard_cases: 1 of 19 texts differ" in output
    assert closing_line(output) == (5, 1), output


@pytest.mark.slow
def test_java_tokenizer_matches_python_on_real_sentences(classes, tokenizer, tmp_path):
    from convbert_edge.data import cache_dir_from_environ, load_movie_review_splits

    splits = load_movie_review_splits(cache_dir_from_environ(os.environ))
    sentences = [e.text for e in splits.train] + [e.text for e in splits.test]
    assert len(sentences) >= 1000
    vectors = write_java_vectors(tmp_path / "vectors", sentences, tokenizer=tokenizer)
    code, output = run_suite(classes, vectors)
    assert code == 0, output
    assert f"PASS tokenizer_sentences: {len(sentences)} texts, 0 mismatches" in output
