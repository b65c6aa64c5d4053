"""Dependencies run one way: every import of the project, lazy ones too, follows LAYERS.

LAYERS is the one declaration of the order (docs/architecture.md draws it). Each layer
names the layers directly below it; it may import those and, through them, everything
further down, never a layer beside or above it. The checker reads every module with
``ast`` (imports inside functions and under ``if TYPE_CHECKING:`` count: a lazy import
hides a dependency, it does not remove it), and fails listing each offending import as
file:line. A second check finds import cycles between modules and between layers.

The checker is plain functions tested on a small package written into tmp_path, so the
tests below show that it fails when an import against the order is added.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "convbert_edge"


@dataclass(frozen=True)
class Layer:
    """One stage of the project.

    Args:
        uses: the layers directly below; their modules and everything below them may be
            imported.
        modules: module names or fnmatch patterns ("convbert_edge.runtime.*"); a module
            belongs to the layer of its longest matching pattern.
    """

    uses: tuple[str, ...]
    modules: tuple[str, ...]


def _package(name: str) -> tuple[str, str]:
    return (f"{PACKAGE}.{name}", f"{PACKAGE}.{name}.*")


# Bottom to top. The runtime sits on `base` alone: verifying an artifact needs no config,
# tokenizer or model code (and so neither torch nor tensorflow). Evaluation sits below
# the exporters because export's recipe selection (--max-accuracy-drop) and its QAT check
# score candidates on labelled dev data; it sits above training, whose data sets and
# metrics it scores with, and so it imports torch (the runtime must not).
LAYERS: dict[str, Layer] = {
    "base": Layer(
        uses=(),
        modules=tuple(
            f"{PACKAGE}.{m}" for m in ("errors", "io_utils", "targets", "tasks", "cache")
        ),
    ),
    "core": Layer(
        uses=("base",),
        modules=(
            PACKAGE,  # its __init__: config, errors, tasks, and the tokenizers on first use
            f"{PACKAGE}.config",
            f"{PACKAGE}.config_fields",
            f"{PACKAGE}.checkpoint",
            f"{PACKAGE}.tokenizer*",
            f"{PACKAGE}.default_model",
            f"{PACKAGE}.distributed",  # the rank a stage is told it runs as (torch lazily)
            *_package("data"),
        ),
    ),
    "runtime": Layer(uses=("base",), modules=_package("runtime")),
    "torch_stack": Layer(uses=("core",), modules=_package("torch_stack")),
    "keras_stack": Layer(uses=("core",), modules=_package("keras_stack")),
    "training": Layer(uses=("torch_stack",), modules=_package("training")),
    "quantize": Layer(uses=("torch_stack", "keras_stack"), modules=_package("quantize")),
    "evaluation": Layer(uses=("training", "runtime"), modules=_package("evaluation")),
    "exporters": Layer(uses=("quantize", "evaluation", "runtime"), modules=_package("exporters")),
    "report": Layer(uses=("exporters",), modules=_package("report")),
    "cli": Layer(
        uses=("report",),
        modules=(
            f"{PACKAGE}.cli",
            f"{PACKAGE}.launch",  # torchrun's environment -> Distributed, for the CLIs
            f"{PACKAGE}.export",
            f"{PACKAGE}.verify",
            f"{PACKAGE}.train",
            f"{PACKAGE}.report.__main__",
            f"{PACKAGE}.data.__main__",
        ),
    ),
}


@dataclass(frozen=True)
class Import:
    """``module`` (in ``path`` at ``line``) imports ``target``, a module of the project."""

    module: str
    target: str
    path: Path
    line: int

    def where(self, root: Path) -> str:
        path = self.path.relative_to(root) if self.path.is_relative_to(root) else self.path
        return f"{path}:{self.line}"


def source_roots(repo: Path = REPO) -> dict[str, Path]:
    """Package name -> folder, as pyproject installs them (quantize/ is convbert_edge.quantize)."""
    with open(repo / "pyproject.toml", "rb") as f:
        package_dir = tomllib.load(f)["tool"]["setuptools"].get("package-dir", {})
    return {PACKAGE: repo / PACKAGE, **{name: repo / d for name, d in package_dir.items()}}


def find_modules(roots: dict[str, Path]) -> dict[str, Path]:
    """Every module under the roots by its import name; a package by its __init__.py."""
    modules: dict[str, Path] = {}
    for name, folder in roots.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join((name, *parts))] = path
    return modules


def project_imports(modules: dict[str, Path], project: str = PACKAGE) -> list[Import]:
    """Every import between the project's own modules, wherever in the file it is."""
    found = []
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(module, is_package, node.module, node.level)
                # `from pkg import name`: the module pkg.name if there is one, else pkg.
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                    for a in node.names
                ]
            else:
                continue
            for target in targets:
                if target == project or target.startswith(project + "."):
                    found.append(Import(module, _known(target, modules), path, node.lineno))
    return list(dict.fromkeys(found))  # `from m import a, b` is one import of m


def _absolute(module: str, is_package: bool, name: str | None, level: int) -> str:
    if level == 0:
        return name or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts + ([name] if name else []))


def _known(target: str, modules: dict[str, Path]) -> str:
    # `import a.b.c` where c is an attribute: the longest prefix that is a module.
    while target not in modules and "." in target:
        target = target.rsplit(".", 1)[0]
    return target


def layer_of(module: str, layers: dict[str, Layer]) -> str | None:
    matches = [
        (len(pattern), name)
        for name, layer in layers.items()
        for pattern in layer.modules
        if fnmatchcase(module, pattern)
    ]
    return max(matches)[1] if matches else None


def reachable(layers: dict[str, Layer]) -> dict[str, set[str]]:
    """Per layer, the layers it may import: itself and everything below it."""
    out: dict[str, set[str]] = {}

    def below(name: str, seen: tuple[str, ...]) -> set[str]:
        if name in seen:
            raise ValueError(f"LAYERS is circular: {' -> '.join((*seen, name))}")
        if name not in layers:
            raise ValueError(f"unknown layer {name!r}; declared: {sorted(layers)}")
        result = {name}
        for lower in layers[name].uses:
            result |= below(lower, (*seen, name))
        return result

    for name in layers:
        out[name] = below(name, ())
    return out


def layer_violations(
    imports: list[Import], modules: dict[str, Path], layers: dict[str, Layer], root: Path
) -> list[str]:
    """One line per import against the order, and per module in no layer."""
    allowed = reachable(layers)
    problems = [
        f"{path.relative_to(root)}: {module} is in no layer; add it to LAYERS"
        for module, path in sorted(modules.items())
        if layer_of(module, layers) is None
    ]
    for imp in imports:
        source, target = layer_of(imp.module, layers), layer_of(imp.target, layers)
        if source is None or target is None or target in allowed[source]:
            continue
        problems.append(
            f"{imp.where(root)}: {imp.module} ({source}) imports {imp.target} ({target}), "
            f"but {source} may only use {sorted(allowed[source] - {source}) or 'nothing'}"
        )
    return problems


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(groups)


def cycle_report(imports: list[Import], layers: dict[str, Layer], root: Path) -> list[str]:
    """Each cycle between modules or between layers, with the imports that close it."""

    def modules(imp: Import) -> tuple[str | None, str | None]:
        return imp.module, imp.target

    def layers_of(imp: Import) -> tuple[str | None, str | None]:
        return layer_of(imp.module, layers), layer_of(imp.target, layers)

    lines = []
    for kind, ends in (("modules", modules), ("layers", layers_of)):
        graph: dict[str, set[str]] = {}
        for imp in imports:
            source, target = ends(imp)
            if source and target and source != target:
                graph.setdefault(source, set()).add(target)
        for group in cycles(graph):
            inside = set(group)
            links = {
                f"{imp.where(root)} {imp.module} -> {imp.target}"
                for imp in imports
                if ends(imp)[0] in inside and ends(imp)[1] in inside and len(set(ends(imp))) == 2
            }
            lines.append(f"cycle between {kind} {group}: " + "; ".join(sorted(links)))
    return lines


# --- the project ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def project() -> tuple[dict[str, Path], list[Import]]:
    modules = find_modules(source_roots())
    return modules, project_imports(modules)


def test_every_import_follows_the_layer_order(project):
    modules, imports = project
    assert len(modules) > 90 and len(imports) > 200  # the walk found the project
    problems = layer_violations(imports, modules, LAYERS, REPO)
    assert not problems, "imports against the layer order:\n" + "\n".join(problems)


def test_no_import_cycles_between_modules_or_layers(project):
    _, imports = project
    problems = cycle_report(imports, LAYERS, REPO)
    assert not problems, "\n".join(problems)


def test_every_declared_layer_is_used_and_acyclic(project):
    modules, _ = project
    reachable(LAYERS)  # raises on a circular or unknown `uses`
    used = {layer_of(m, LAYERS) for m in modules}
    assert used == set(LAYERS), f"layers with no module: {sorted(set(LAYERS) - used)}"


def test_the_runtime_path_imports_neither_torch_nor_tensorflow():
    code = (
        "import convbert_edge.runtime.session, convbert_edge.runtime.verify, sys; "
        "print('torch' in sys.modules, 'tensorflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "False False", out.stdout + out.stderr


# --- the checker, on a package made for it ----------------------------------------------

TOY_LAYERS = {
    "low": Layer(uses=(), modules=("toy", "toy.low", "toy.low.*")),
    "mid": Layer(uses=("low",), modules=("toy.mid", "toy.mid.*")),
    "top": Layer(uses=("mid",), modules=("toy.top",)),
}


def write_toy(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for name, text in files.items():
        path = root / "toy" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return find_modules({"toy": root / "toy"})


TOY = {
    "__init__.py": "",
    "low/__init__.py": "",
    "low/base.py": "import os\n",
    "mid/__init__.py": "from .work import run\n",
    "mid/work.py": """\
        from toy.low import base

        def run():
            from ..low.base import os
            return os
        """,
    "top.py": "from toy.mid import run\nimport toy.low.base\n",
}


def toy_problems(tmp_path: Path, files: dict[str, str]) -> tuple[list[str], list[str]]:
    modules = write_toy(tmp_path, files)
    imports = project_imports(modules, project="toy")
    return (
        layer_violations(imports, modules, TOY_LAYERS, tmp_path),
        cycle_report(imports, TOY_LAYERS, tmp_path),
    )


def test_checker_passes_a_package_that_follows_its_order(tmp_path):
    assert toy_problems(tmp_path, TOY) == ([], [])


def test_checker_fails_on_an_import_against_the_order_even_inside_a_function(tmp_path):
    bad = dict(TOY)
    bad["low/base.py"] = """\
        import os

        def helper():
            from toy.mid.work import run  # reaching up, hidden in a function
            return run
        """
    layers, _ = toy_problems(tmp_path, bad)
    assert layers == [
        "toy/low/base.py:4: toy.low.base (low) imports toy.mid.work (mid), "
        "but low may only use nothing"
    ]


def test_checker_reads_type_checking_blocks_and_relative_imports(tmp_path):
    bad = dict(TOY)
    bad["mid/work.py"] = """\
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from .. import top

        def run():
            return None
        """
    layers, _ = toy_problems(tmp_path, bad)
    assert len(layers) == 1 and layers[0].startswith("toy/mid/work.py:4: toy.mid.work (mid)")
    assert "imports toy.top (top)" in layers[0]


def test_checker_reports_a_module_in_no_layer(tmp_path):
    extra = {**TOY, "stray.py": "x = 1\n"}
    layers, _ = toy_problems(tmp_path, extra)
    assert layers == ["toy/stray.py: toy.stray is in no layer; add it to LAYERS"]


def test_checker_reports_module_and_layer_cycles(tmp_path):
    looped = dict(TOY)
    looped["low/base.py"] = "def f():\n    from toy.low import other\n"
    looped["low/other.py"] = "from toy.low.base import f\n"
    _, found = toy_problems(tmp_path, looped)
    assert found == [
        "cycle between modules ['toy.low.base', 'toy.low.other']: "
        "toy/low/base.py:2 toy.low.base -> toy.low.other; "
        "toy/low/other.py:1 toy.low.other -> toy.low.base"
    ]
    # A layer cycle: only possible where LAYERS lets both sides use each other, so the
    # cycle check guards the graph itself, not just the declaration.
    loose = {**TOY_LAYERS, "low": Layer(uses=("mid",), modules=TOY_LAYERS["low"].modules)}
    root = tmp_path / "loose"
    modules = write_toy(root, {**TOY, "low/base.py": "import toy.mid.work\n"})
    report = cycle_report(project_imports(modules, project="toy"), loose, root)
    assert any(line.startswith("cycle between layers ['low', 'mid']") for line in report)


def test_checker_rejects_a_circular_declaration():
    circular = {**TOY_LAYERS, "low": Layer(uses=("top",), modules=("toy.low",))}
    with pytest.raises(ValueError, match="LAYERS is circular"):
        reachable(circular)
