"""cache.py: the toolkit's cache directory, spelled once for the library, CLIs and runtime."""

from __future__ import annotations

import re
from pathlib import Path

from convbert_edge.cache import (
    CACHE_DIR_DEFAULT_HELP,
    DEFAULT_CACHE_DIR,
    cache_dir_for,
    default_cache_dir,
)
from convbert_edge.exporters.pipeline import ExportOptions
from convbert_edge.report import ReportOptions
from convbert_edge.runtime.arm64 import Arm64Options

REPO = Path(__file__).resolve().parents[1]
LIBRARY = ("convbert_edge", "runtime", "exporters", "quantize", "benchmarks")


def test_flag_then_environment_then_default():
    env = {"CONVBERT_EDGE_CACHE": "/from/env"}
    assert cache_dir_for("/flag", env) == Path("/flag")
    assert cache_dir_for(None, env) == Path("/from/env")
    assert cache_dir_for(None, {}) == Path("~/.cache/convbert_edge").expanduser()
    assert cache_dir_for(None, {"CONVBERT_EDGE_CACHE": ""}) == default_cache_dir()
    assert cache_dir_for("~/c", {}) == Path("~/c").expanduser()
    assert CACHE_DIR_DEFAULT_HELP == "$CONVBERT_EDGE_CACHE or ~/.cache/convbert_edge"


def test_every_options_dataclass_defaults_to_the_same_directory():
    assert ExportOptions(target="tflite").cache_dir == default_cache_dir()
    assert ReportOptions().cache_dir == default_cache_dir()
    assert Arm64Options().cache_dir.expanduser() == default_cache_dir()
    assert DEFAULT_CACHE_DIR.expanduser() == default_cache_dir()


def test_no_other_module_spells_the_directory_or_its_variable():
    # Any second spelling can drift from this one; code imports convbert_edge.cache.
    pattern = re.compile(r"""["'](~/\.cache/convbert_edge|CONVBERT_EDGE_CACHE)["']""")
    found = [
        f"{path.relative_to(REPO)}:{n}"
        for folder in LIBRARY
        for path in sorted((REPO / folder).rglob("*.py"))
        if path != REPO / "convbert_edge" / "cache.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []
