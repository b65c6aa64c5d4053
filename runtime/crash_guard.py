"""Running a model file nobody has vouched for in a child process, so that a native crash
of the runtime becomes an ArtifactError instead of the end of the caller's process.

Why: executorch 1.5.1 aborts the process (SIGABRT) when the XNNPACK payload inside an
otherwise well-formed .pte is garbage, and byte-mutated .tflite files can crash LiteRT;
neither runtime offers a check that catches this before load. A child that loads the
model (and runs the golden calls) dies alone, and its exit status says what happened.

    run_in_child("golden", directory, outputs_path)   # verify_artifact: outputs to a file
    run_in_child("probe", directory)                  # session.load: load and run one call

The child is runtime/child.py (``python -m convbert_edge.runtime.child``): exit 0 done,
2 with a one-line message on stderr for an ArtifactError; a signal or any other status
is reported as a crash.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from convbert_edge.errors import ArtifactError

CHILD_MODULE = "convbert_edge.runtime.child"
DEFAULT_TIMEOUT_S = 1800.0  # golden calls of a base-size model take seconds; a hang is not
BROKEN_EXIT = 2


def run_in_child(
    mode: str,
    directory: str | Path,
    outputs: str | Path | None = None,
    threads: int = 1,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> None:
    """Run the child's ``mode`` ("golden" or "probe") on the artifact; ArtifactError if it
    fails, crashes or hangs."""
    command = [sys.executable, "-m", CHILD_MODULE, mode, str(directory), str(outputs or "-"),
               str(threads)]  # fmt: skip
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise ArtifactError(
            f"running {directory} did not finish within {timeout_s:.0f} s and was stopped: "
            "the model hangs the runtime; export it again"
        ) from None
    if done.returncode == 0:
        return
    message = (done.stderr.strip().splitlines() or [""])[-1]
    if done.returncode == BROKEN_EXIT and message:
        raise ArtifactError(message)
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        raise ArtifactError(
            f"the runtime crashed ({name}) while loading or running the model in {directory}: "
            "the model file is corrupt, or was written for another runtime version; export "
            "it again"
        )
    raise ArtifactError(
        f"running the model in {directory} failed (exit {done.returncode}: "
        f"{message or 'no message'}); export it again"
    )
