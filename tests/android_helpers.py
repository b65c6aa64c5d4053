"""Helpers of the Android-side tests: a fake artifact, and javac against the platform jar.

make_fake_artifact: a small artifact directory with no real model behind it. Verify with an
outputs file never runs the model, only checks its sha256, so a few bytes stand in for
model.tflite; the golden bundle holds real-text inputs.

compile_against_android: android_demo's Java compiled against Android's API-23 platform jar
(fetched by android_demo/tools/platform_jar.sh), so a call above the app's API level fails.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from convbert_edge.cache import cache_dir_for
from convbert_edge.exporters.spec import tolerance_for
from convbert_edge.runtime.golden import GoldenBundle
from convbert_edge.runtime.manifest import GOLDEN_NAME, Manifest, TensorSpec, sha256_file
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


# --- Compiling android_demo against the Android platform jar (tests/test_android_compile.py) ---

ANDROID_DEMO = Path(__file__).resolve().parents[1] / "android_demo"
PLATFORM_JAR_SCRIPT = "android_demo/tools/platform_jar.sh"
# javac cannot take -bootclasspath with --release or a -source above 8, so the check compiles
# Java 8 source (the app's Gradle build allows 11; D8 desugars either for minSdk 24).
JAVAC_FLAGS = "-source 8 -target 8 -encoding UTF-8 -Xlint:all,-options -Werror".split()


def platform_jar_path(environ: dict[str, str]) -> Path:
    """Where android_demo/tools/platform_jar.sh puts android.jar of API 23."""
    cache = cache_dir_for(None, environ)
    return cache / "android" / "android-23.jar"


def java_sources(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*.java"))


def _javac(
    jar: Path, out: Path, sources: list[str], classpath: Path | None = None
) -> subprocess.CompletedProcess:
    out.mkdir(parents=True, exist_ok=True)
    cp = ["-classpath", str(classpath)] if classpath is not None else []
    return subprocess.run(
        ["javac", *JAVAC_FLAGS, "-bootclasspath", str(jar), *cp, "-d", str(out), *sources],
        capture_output=True,
        text=True,
    )


def compile_stubs(demo: Path, jar: Path, out: Path) -> Path:
    """The compile-only LiteRT and ExecuTorch declarations (demo/compile_stubs) -> out."""
    proc = _javac(jar, out, java_sources(demo / "compile_stubs"))
    if proc.returncode != 0:
        raise RuntimeError(f"the compile-only declarations do not compile:\n{proc.stderr}")
    return out


def compile_against_android(
    demo: Path, jar: Path, stubs: Path, out: Path
) -> subprocess.CompletedProcess:
    """javac of demo's core and app main sources against jar, with the stubs' classes (from
    compile_stubs) on the classpath only, so that none of them lands in out."""
    sources = java_sources(demo / "core" / "src" / "main") + java_sources(
        demo / "app" / "src" / "main"
    )
    return _javac(jar, out, sources, classpath=stubs)


def explain_javac_failure(stderr: str) -> str:
    """javac's output, with the one failure whose message does not say what to do."""
    if "MethodHandles$Lookup not found" in stderr:
        return (
            "a lambda or method reference: javac needs java.lang.invoke (API 26) for them and "
            "android.jar of API 23 has none; write an anonymous class (docs/android.md)\n" + stderr
        )
    return stderr
