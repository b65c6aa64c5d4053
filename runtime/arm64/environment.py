"""Build (once) and find the arm64 environment: Debian userland, qemu-aarch64, and the
aarch64 wheels of a runtime, each a directory under ``<cache>/arm64`` named after the hash
of its recipe part (recipe.py). A part is built in a ``.partial`` directory and renamed
when complete, so an interrupted build is never mistaken for a finished one; a part whose
recipe changed gets a new name and the old directory is removed.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from convbert_edge.errors import ConvBertEdgeError
from convbert_edge.targets import Target

from ..manifest import sha256_file
from .recipe import Arm64Recipe

STAMP = "recipe.json"  # written last: its presence means the part is complete
DOCS = "docs/arm64.md"
Log = Callable[[str], None]


class Arm64Error(ConvBertEdgeError):
    """The arm64 environment cannot be built or run here, or the emulated run failed."""


@dataclass(frozen=True)
class Arm64Environment:
    """Paths of a built environment for one runtime.

    Args:
        qemu: the static qemu-aarch64 binary.
        rootfs: the arm64 Debian tree (its python3.11 is what runs).
        site: the runtime's aarch64 wheels, installed with pip --target.
        cpu: the CPU model to emulate.
    """

    qemu: Path
    rootfs: Path
    site: Path
    cpu: str

    @property
    def python(self) -> Path:
        return self.rootfs / "usr" / "bin" / "python3.11"

    def command(self, *args: str) -> list[str]:
        # -L makes qemu look up absolute paths (the dynamic linker, /usr/lib/python3.11)
        # in the arm64 tree first and fall back to the host's (the artifact, the outputs).
        return [str(self.qemu), "-L", str(self.rootfs), str(self.python), *args]

    def environ(self, pythonpath: list[Path]) -> dict[str, str]:
        return {
            "QEMU_CPU": self.cpu,
            "PYTHONPATH": os.pathsep.join(str(p) for p in [*pythonpath, self.site]),
            "PYTHONNOUSERSITE": "1",
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": "/tmp",
        }


def arm64_cache(cache_dir: str | Path) -> Path:
    return Path(cache_dir).expanduser() / "arm64"


def missing_tools(parts: list[str]) -> list[str]:
    """What this machine lacks to build ``parts``, each with what to do about it."""
    missing = []
    if "userland" in parts:
        if os.geteuid() != 0:
            missing.append(
                "root: mmdebstrap --mode=root builds the arm64 userland (run this command once "
                "as root; later runs need no root)"
            )
        for tool in ("mmdebstrap", "arch-test"):
            if shutil.which(tool) is None:
                missing.append(f"{tool}: apt-get install mmdebstrap arch-test")
    if "qemu" in parts and shutil.which("dpkg-deb") is None:
        missing.append("dpkg-deb (takes qemu-aarch64 out of its .deb): apt-get install dpkg")
    if any(p.startswith("wheels-") for p in parts):
        probe = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
        if probe.returncode != 0:
            missing.append(f"pip for {sys.executable}: {sys.executable} -m ensurepip")
    return missing


def ensure_environment(
    target: Target, recipe: Arm64Recipe, cache_dir: str | Path, log: Log = print
) -> Arm64Environment:
    """The environment that runs ``target`` artifacts on arm64, built first if needed.

    Raises Arm64Error naming every missing tool (before building anything), or the step
    that failed (with the tail of its output) if a build step fails.
    """
    recipe.wheel_set(target)  # an unknown target fails before anything is built
    cache = arm64_cache(cache_dir)
    wheels = f"wheels-{target.value}"
    builders: dict[str, Callable[[Path], None]] = {
        "userland": lambda d: build_userland(recipe, d, log),
        "qemu": lambda d: build_qemu(recipe, cache / "downloads", d, log),
        wheels: lambda d: build_wheels(recipe, target, d, log),
    }
    todo = [name for name in builders if not (part_dir(cache, recipe, name) / STAMP).is_file()]
    missing = missing_tools(todo)
    if missing:
        raise Arm64Error(
            f"the arm64 environment ({', '.join(todo)}) is not built yet in {cache}, and "
            "building it here needs:\n  - " + "\n  - ".join(missing) + f"\nSee {DOCS}."
        )
    dirs = {name: ensure_part(cache, recipe, name, build, log) for name, build in builders.items()}
    return Arm64Environment(
        qemu=dirs["qemu"] / "qemu-aarch64",
        rootfs=dirs["userland"] / "rootfs",
        site=dirs[wheels] / "site",
        cpu=recipe.cpu,
    )


def part_dir(cache: Path, recipe: Arm64Recipe, name: str) -> Path:
    return cache / f"{name}-{recipe.part_hash(name)[:16]}"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder of a part at a time; a second process waits, then finds it built."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def ensure_part(
    cache: Path, recipe: Arm64Recipe, name: str, build: Callable[[Path], None], log: Log
) -> Path:
    """The part's directory; built with ``build(tmp_dir)`` if absent or of another recipe."""
    final = part_dir(cache, recipe, name)
    with _locked(cache / f".{name}.lock"):
        if (final / STAMP).is_file():
            return final
        for stale in cache.glob(f"{name}-*"):
            log(f"arm64: removing {stale.name} (built from another recipe)")
            shutil.rmtree(stale, ignore_errors=True)
        partial = cache / f".{final.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        build(partial)
        (partial / STAMP).write_text(json.dumps(recipe.part(name), indent=1, sort_keys=True))
        partial.rename(final)
        return final


def _run_step(what: str, cmd: list[str], timeout: float, hint: str) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Arm64Error(f"{what} did not finish in {timeout:.0f} s ({hint})") from None
    if proc.returncode != 0:
        lines = [
            line
            for line in (proc.stderr + proc.stdout).splitlines()
            if line.strip() and not line.startswith("WARNING: Location")
        ]
        tail = "\n".join(lines[-8:])
        raise Arm64Error(f"{what} failed ({hint}):\n{tail}")


def build_userland(recipe: Arm64Recipe, out: Path, log: Log) -> None:
    u = recipe.userland
    log(f"arm64: building a Debian {u.suite} arm64 userland with mmdebstrap (about 15 s)")
    _run_step(
        "mmdebstrap",
        [
            "mmdebstrap",
            "--mode=root",
            "--arch=arm64",
            "--variant=extract",
            f"--include={','.join(u.packages)}",
            u.suite,
            str(out / "rootfs"),
            f"deb {recipe.mirror} {u.suite} main",
        ],
        timeout=1800,
        hint=f"it needs root and network access to {recipe.mirror}",
    )


def build_qemu(recipe: Arm64Recipe, downloads: Path, out: Path, log: Log) -> None:
    deb = fetch_deb(recipe, downloads, log)
    log(f"arm64: extracting {recipe.qemu.member} from {deb.name}")
    # dpkg-deb is cut off (SIGPIPE) once the member is read: its complaint is noise.
    cmd = ["dpkg-deb", "--fsys-tarfile", str(deb)]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as p:
        with tarfile.open(fileobj=p.stdout, mode="r|") as tar:
            for member in tar:
                if member.name == recipe.qemu.member:
                    source = tar.extractfile(member)
                    with open(out / "qemu-aarch64", "wb") as f:
                        shutil.copyfileobj(source, f)
                    break
        p.stdout.close()
    qemu = out / "qemu-aarch64"
    if not qemu.is_file():
        raise Arm64Error(f"{deb} holds no {recipe.qemu.member}: the recipe's qemu pin is wrong")
    qemu.chmod(0o755)


def fetch_deb(recipe: Arm64Recipe, downloads: Path, log: Log) -> Path:
    """The pinned .deb in ``downloads``, fetched from the mirror's pool if absent."""
    deb = recipe.qemu
    path = downloads / deb.filename
    if path.is_file() and sha256_file(path) == deb.sha256:
        return path
    url = f"{recipe.mirror}/{deb.pool_path}"
    log(f"arm64: downloading {url} (about 60 MB)")
    downloads.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as f:
            shutil.copyfileobj(response, f, 1 << 20)
    except (urllib.error.URLError, OSError) as err:
        raise Arm64Error(
            f"could not download {url} ({err}). With no network, copy {deb.filename} "
            f"(sha256 {deb.sha256}) into {downloads} by hand; if the mirror no longer has "
            "that version, it is on snapshot.debian.org"
        ) from None
    digest = sha256_file(partial)
    if digest != deb.sha256:
        partial.unlink()
        raise Arm64Error(f"{url} has sha256 {digest}, the recipe pins {deb.sha256}")
    partial.rename(path)
    return path


def build_wheels(recipe: Arm64Recipe, target: Target, out: Path, log: Log) -> None:
    wheels = recipe.wheel_set(target)
    size = (
        "about 2.5 GB to download, 4 GB installed: torch and the CUDA libraries it links"
        if target is Target.EXECUTORCH
        else "about 100 MB"
    )
    log(f"arm64: installing the aarch64 wheels for {target.value} ({size})")
    platforms = [arg for tag in recipe.platforms() for arg in ("--platform", tag)]
    _run_step(
        "pip install of the aarch64 wheels",
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-warn-conflicts",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            recipe.userland.python,
            "--implementation",
            "cp",
            *platforms,
            "--target",
            str(out / "site"),
            *wheels.requirements,
        ],
        timeout=3600,
        hint="it needs network access to PyPI",
    )
