"""Verify an artifact on arm64 without a phone: run its golden inputs with the aarch64
LiteRT or ExecuTorch runtime under qemu-user, then check the outputs here with the same
code and tolerances as every other check (runtime/verify.py).

The emulated Python gets the artifact's files by their host paths (qemu-user shares the
host's filesystem), a staged copy of convbert_edge's runtime code (session, manifest,
golden, verify and what they import: no torch, no tensorflow, no project install) and
emulated.py, which writes outputs.npz. The run has a timeout and its own process group,
so a hang is killed and a crash (a signal) becomes an error, never this process's fate.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from convbert_edge import errors as core_errors
from convbert_edge.cache import DEFAULT_CACHE_DIR
from convbert_edge.errors import ArtifactError
from convbert_edge.targets import Target

from ..manifest import Manifest
from ..verify import VerifyResult, verify_artifact
from . import emulated
from .environment import Arm64Environment, Arm64Error, ensure_environment
from .recipe import Arm64Recipe

RUNTIME_NAMES = {Target.TFLITE: "LiteRT", Target.EXECUTORCH: "ExecuTorch"}

# Importing torch under emulation alone takes 1-2 minutes, the first run 4-7.
DEFAULT_TIMEOUTS = {Target.TFLITE: 600.0, Target.EXECUTORCH: 1800.0}

# What the emulated side imports of convbert_edge, by package-relative path. The real
# convbert_edge/__init__.py is replaced by an empty one: it imports the config and tasks.
STAGED_CORE = ("errors.py", "targets.py", "tasks.py", "io_utils.py")
STAGED_RUNTIME = (
    "__init__.py",
    "manifest.py",
    "session.py",
    "litert.py",
    "pte.py",
    "input_checks.py",
    "crash_guard.py",
    "outputs.py",
    "golden.py",
    "tolerances.py",
    "metrics.py",
    "verify.py",
)


@dataclass(frozen=True)
class Arm64Options:
    """How to run on arm64.

    Args:
        cache_dir: the toolkit's cache; the environment lives in its arm64/ folder.
        threads: runtime threads inside the emulated process.
        timeout_s: how long the emulated run may take (None: per runtime, see above).
        recipe: what the environment is built from.
    """

    cache_dir: Path = DEFAULT_CACHE_DIR
    threads: int = 2
    timeout_s: float | None = None
    recipe: Arm64Recipe = field(default_factory=Arm64Recipe)


def stage_runtime_code(dest: Path) -> Path:
    """Copy the runtime code the emulated side imports into ``dest``; returns ``dest``."""
    core = Path(core_errors.__file__).parent  # the package folder, however it is installed
    runtime = Path(__file__).resolve().parent.parent
    (dest / "convbert_edge" / "runtime").mkdir(parents=True)
    (dest / "convbert_edge" / "__init__.py").write_text('"""staged for the arm64 run"""\n')
    for name in STAGED_CORE:
        shutil.copy(core / name, dest / "convbert_edge" / name)
    for name in STAGED_RUNTIME:
        shutil.copy(runtime / name, dest / "convbert_edge" / "runtime" / name)
    shutil.copy(emulated.__file__, dest / "emulated.py")
    return dest


def run_emulated(
    env: Arm64Environment,
    directory: Path,
    work: Path,
    target: Target,
    threads: int,
    timeout_s: float,
    inputs_file: Path | None = None,
) -> Path:
    """Run the golden inputs (or those of ``inputs_file``: ``input/<name>`` arrays shaped
    (calls, ...)) under qemu; the outputs file it wrote, or Arm64Error."""
    stage = stage_runtime_code(work / "stage")
    outputs = work / "outputs.npz"
    script = str(stage / "emulated.py")
    cmd = env.command(script, str(directory.resolve()), str(outputs), str(threads))
    if inputs_file is not None:
        cmd.append(str(Path(inputs_file).resolve()))
    runtime = f"the aarch64 {RUNTIME_NAMES[target]} runtime"
    with open(work / "log.txt", "w+") as log:
        proc = subprocess.Popen(
            cmd,
            env=env.environ([stage]),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a kill reaches every thread
        )
        try:
            status = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise Arm64Error(
                f"{runtime} did not finish {directory} in {timeout_s:.0f} s under qemu: killed "
                "(a corrupt artifact can hang a runtime; verify it on the host first)"
            ) from None
        except BaseException:  # Ctrl-C: its own session does not get the SIGINT
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        log.seek(0)
        lines = [line.rstrip() for line in log if line.strip()]
    if status == emulated.REFUSED:
        refused = [line[len("error: ") :] for line in lines if line.startswith("error: ")]
        why = " ".join(refused) or (lines[-1] if lines else "no message")
        raise ArtifactError(f"{runtime} refused {directory}: {why}")
    if status < 0:
        name = signal.Signals(-status).name
        raise Arm64Error(
            f"{runtime} crashed with {name} running {directory} under qemu; on the host, "
            f"`python -m convbert_edge.verify {directory}` says whether the artifact is at fault"
            + _tail(lines)
        )
    if status != 0 or not outputs.is_file():
        raise Arm64Error(f"{runtime} failed on {directory} (exit status {status})" + _tail(lines))
    return outputs


def _tail(lines: list[str], n: int = 8) -> str:
    return ("; its last output:\n" + "\n".join(lines[-n:])) if lines else ""


def verify_on_arm64(
    directory: str | Path,
    options: Arm64Options = Arm64Options(),
    log: Callable[[str], None] = print,
) -> VerifyResult:
    """Run the artifact's golden inputs on emulated arm64 and compare with the fp32 reference.

    Raises ArtifactError (a broken artifact) or Arm64Error (no environment, a crash, a
    timeout); both are ConvBertEdgeError.
    """
    directory = Path(directory)
    manifest = Manifest.read(directory)
    manifest.check_model_file(directory)  # a changed file is refused before emulating it
    target = Target(manifest.target)
    if target not in RUNTIME_NAMES:
        raise Arm64Error(
            f"{directory} is a {target.value} artifact; --device arm64 runs "
            f"{' and '.join(t.value for t in RUNTIME_NAMES)} artifacts"
        )
    env = ensure_environment(target, options.recipe, options.cache_dir, log)
    timeout = options.timeout_s if options.timeout_s is not None else DEFAULT_TIMEOUTS[target]
    log(
        f"arm64: running {directory} with the aarch64 {RUNTIME_NAMES[target]} under qemu "
        f"({options.recipe.cpu})"
    )
    with tempfile.TemporaryDirectory(prefix="convbert_edge_arm64_") as work:
        outputs = run_emulated(env, directory, Path(work), target, options.threads, timeout)
        return verify_artifact(directory, outputs_file=outputs)
