"""Running a model file nobody has vouched for in a child process, so that a native crash
of the runtime becomes an ArtifactError instead of the end of the caller's process.

Why: executorch 1.5.1 aborts the process (SIGABRT) when the XNNPACK payload inside an
otherwise well-formed .pte is garbage, and byte-mutated .tflite files can crash LiteRT;
neither runtime offers a check that catches this before load. A child that loads the
model (and runs the golden calls) dies alone, and its exit status says what happened.

    with Child() as child:                            # session.load: load, run one call
        child.run("probe", directory)

    with Child(preload=Target.EXECUTORCH) as child:   # the export: started ahead of need,
        ...                                           # it imports ExecuTorch meanwhile
        child.run("golden", directory, outputs_path)  # verify_artifact: outputs to a file

The child is runtime/child.py (``python -m convbert_edge.runtime.child``): exit 0 done,
2 with a one-line message on stderr for an ArtifactError; a signal or any other status
is reported as a crash. Importing a runtime is most of a short child's time (ExecuTorch's
Python runtime imports torch and executorch.exir: 4.5-5.5 s here, against 0.5 s for the
golden calls), so the export starts its child before converting, and the import runs on
the second core while the conversion runs on the first.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from convbert_edge.errors import ArtifactError
from convbert_edge.targets import Target

CHILD_MODULE = "convbert_edge.runtime.child"
DEFAULT_TIMEOUT_S = 1800.0  # golden calls of a base-size model take seconds; a hang is not
BROKEN_EXIT = 2


class Child:
    """One child process that runs one job: "golden" or "probe" on an artifact directory.

    It starts at construction. With ``preload`` it imports that target's runtime at once
    and then waits for its job, so the import overlaps whatever the caller does before
    ``run``. A child that is never run is stopped on ``close`` (or leaving the ``with``).

    Args:
        preload: the target whose runtime the child imports before its job; None imports
            it with the job.

    Example:
        >>> with Child(preload=Target.TFLITE) as child:
        ...     child.run("probe", "artifacts/tflite-int8")
    """

    def __init__(self, preload: Target | None = None):
        command = [sys.executable, "-m", CHILD_MODULE, "--wait"]
        if preload is not None:
            command += ["--preload", Target(preload).value]
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._used = False

    def run(
        self,
        mode: str,
        directory: str | Path,
        outputs: str | Path | None = None,
        threads: int = 1,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        """Run the child's ``mode`` ("golden" or "probe") on the artifact; ArtifactError if
        it fails, crashes or hangs. A Child runs one job."""
        if self._used:
            raise RuntimeError("a Child runs one job; start another for the next")
        self._used = True
        job = [mode, str(directory), str(outputs or "-"), str(threads)]
        try:
            _, stderr = self._process.communicate(json.dumps(job) + "\n", timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.close()
            raise ArtifactError(
                f"running {directory} did not finish within {timeout_s:.0f} s and was stopped: "
                "the model hangs the runtime; export it again"
            ) from None
        _raise_for_exit(self._process.returncode, stderr, directory)

    def close(self) -> None:
        """Stop the child if it is still running (a job never given, or one that hung)."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.communicate()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _raise_for_exit(returncode: int, stderr: str, directory: str | Path) -> None:
    if returncode == 0:
        return
    message = (stderr.strip().splitlines() or [""])[-1]
    if returncode == BROKEN_EXIT and message:
        raise ArtifactError(message)
    if returncode < 0:
        name = signal.Signals(-returncode).name
        raise ArtifactError(
            f"the runtime crashed ({name}) while loading or running the model in {directory}: "
            "the model file is corrupt, or was written for another runtime version; export "
            "it again"
        )
    raise ArtifactError(
        f"running the model in {directory} failed (exit {returncode}: "
        f"{message or 'no message'}); export it again"
    )
