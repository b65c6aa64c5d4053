"""android_demo's Java (core and app) compiles against Android's own API, not the JDK's.

The JVM tests (test_android_core.py) compile the core against the JDK, which has every API
up to Java 17: a call that Android lacks at the app's minSdk (24) passes there and crashes on
a phone (java.nio.file arrived in API 26). Here javac sees only android.jar of API 23, the
newest real platform jar Debian packages (android_demo/tools/platform_jar.sh puts it in the
cache; `make test` runs it first), plus compile-only declarations of the LiteRT and
ExecuTorch classes the app calls (android_demo/compile_stubs, checked against their sources).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from xml.etree import ElementTree

import pytest
from android_helpers import (
    ANDROID_DEMO,
    PLATFORM_JAR_SCRIPT,
    compile_against_android,
    compile_stubs,
    explain_javac_failure,
    platform_jar_path,
)


def _missing(reason: str) -> None:
    """Fail under CI (a check that silently does not run is no check), skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def android_jar() -> Path:
    if shutil.which("javac") is None:
        _missing("no javac on PATH: the Android compile check needs a JDK (17 here)")
    jar = platform_jar_path(os.environ)
    if not jar.is_file():
        _missing(
            f"no Android API-23 platform jar at {jar}: run `make android-platform-jar` "
            f"(bash {PLATFORM_JAR_SCRIPT}; it needs apt-get and Debian's package mirror)"
        )
    return jar


@pytest.fixture(scope="module")
def stubs(android_jar, tmp_path_factory) -> Path:
    return compile_stubs(ANDROID_DEMO, android_jar, tmp_path_factory.mktemp("stubs"))


def test_core_and_app_compile_against_android_23(android_jar, stubs, tmp_path):
    classes = tmp_path / "classes"
    proc = compile_against_android(ANDROID_DEMO, android_jar, stubs, classes)
    assert proc.returncode == 0, explain_javac_failure(proc.stderr)
    for name in (
        "core/Manifest",
        "core/WordPieceTokenizer",
        "core/GoldenRunner",
        "demo/MainActivity",
        "demo/VerifyActivity",
        "demo/TfliteModel",
        "demo/ExecuTorchModel",
    ):
        assert (classes / "org" / "convbertedge" / f"{name}.class").is_file(), name
    # The declarations of the runtime libraries stay out of what an APK would be built from.
    assert not (classes / "org" / "tensorflow").exists()
    assert not (classes / "org" / "pytorch").exists()


# (file under android_demo, a line that is there now, the same line with a call above API 23,
#  what javac must name). The first is the defect this check was written for.
REGRESSIONS = {
    "java.nio.file in the core": (
        "core/src/main/java/org/convbertedge/core/Manifest.java",
        "String text = Utf8Files.read(f);",
        'String text = new String(java.nio.file.Files.readAllBytes(f.toPath()), "UTF-8");',
        "package java.nio.file does not exist",
    ),
    "String.codePoints() (API 24) in the tokenizer": (
        "core/src/main/java/org/convbertedge/core/WordPieceTokenizer.java",
        "int[] cps = codePoints(word);",
        "int[] cps = word.codePoints().toArray();",
        "symbol:   method codePoints()",
    ),
    "File.toPath() (API 26) in the app": (
        "app/src/main/java/org/convbertedge/demo/Artifacts.java",
        "File model = manifest.modelPath(directory);",
        "File model = manifest.modelPath(directory).toPath().toFile();",
        "symbol:   method toPath()",
    ),
}


@pytest.mark.parametrize("case", sorted(REGRESSIONS))
def test_a_call_above_the_api_level_fails_the_compile(android_jar, stubs, tmp_path, case):
    relative, line, regressed, message = REGRESSIONS[case]
    demo = tmp_path / "android_demo"
    for part in ("core", "app"):
        shutil.copytree(ANDROID_DEMO / part, demo / part)
    source = demo / relative
    text = source.read_text(encoding="utf-8")
    assert text.count(line) == 1, f"{relative} no longer holds {line!r}: update REGRESSIONS"
    source.write_text(text.replace(line, regressed), encoding="utf-8")

    proc = compile_against_android(demo, android_jar, stubs, tmp_path / "classes")
    assert proc.returncode != 0, f"javac accepted {regressed!r} against API 23"
    assert f"{Path(relative).name}:" in proc.stderr, proc.stderr
    assert message in proc.stderr, proc.stderr


def test_app_manifest_is_xml_naming_the_app_activities():
    # aapt and the Gradle manifest merger refuse a manifest that is not well-formed XML (a
    # comment holding "--" was one); expat here says so without either.
    manifest = ANDROID_DEMO / "app" / "src" / "main" / "AndroidManifest.xml"
    root = ElementTree.parse(manifest).getroot()
    android = "{http://schemas.android.com/apk/res/android}"
    names = [a.get(f"{android}name") for a in root.iter("activity")]
    assert names == [".MainActivity", ".VerifyActivity"]
    app = ANDROID_DEMO / "app" / "src" / "main" / "java" / "org" / "convbertedge" / "demo"
    for name in names:
        source = (app / f"{name[1:]}.java").read_text(encoding="utf-8")
        assert f"public final class {name[1:]} extends Activity" in source, name
