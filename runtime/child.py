"""The child process of runtime/crash_guard.py: load an artifact and run it, alone.

    python -m convbert_edge.runtime.child golden DIR OUTPUTS.npz THREADS
    python -m convbert_edge.runtime.child probe DIR - THREADS
    python -m convbert_edge.runtime.child --wait [--preload TARGET]   # the job on stdin

With --wait the job's four arguments come as one JSON list on stdin (crash_guard.Child),
after the child has imported TARGET's runtime; stdin closed without a job ends it (exit 0).

Exit 0 when done; 2 with a one-line message on stderr for an error convbert_edge names;
a crash of the runtime ends this process only, and the parent reports it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from convbert_edge.errors import ConvBertEdgeError
from convbert_edge.targets import Target

from .crash_guard import BROKEN_EXIT, CHILD_MODULE
from .golden import GoldenBundle
from .outputs import write_outputs_file
from .session import load, preload
from .verify import run_golden


def main(argv: list[str] | None = None) -> int:
    # The runtimes' start-up chatter is noise here; what matters is the exit status.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--wait"]:
        argv = _wait_for_job(argv[1:])
        if argv is None:  # the parent went away, or never had a job for us
            return 0
    parser = argparse.ArgumentParser(prog=f"python -m {CHILD_MODULE}")
    parser.add_argument("mode", choices=["golden", "probe"])
    parser.add_argument("directory")
    parser.add_argument("outputs")
    parser.add_argument("threads", type=int)
    args = parser.parse_args(argv)
    try:
        if args.mode == "golden":
            write_outputs_file(args.outputs, run_golden(args.directory, threads=args.threads))
            return 0
        session = load(args.directory, threads=args.threads, isolate=False)
        manifest = session.manifest
        if manifest.golden_sha256 is not None:
            golden = GoldenBundle.load(manifest.check_golden_file(args.directory))
            session.run({k: v[0] for k, v in golden.inputs.items()})
        else:  # token id 0 ([PAD]) is in every vocabulary
            session.run({s.name: np.zeros(s.shape, s.dtype) for s in manifest.inputs})
        return 0
    except ConvBertEdgeError as err:
        print(str(err).replace("\n", " "), file=sys.stderr)
        return BROKEN_EXIT


def _wait_for_job(options: list[str]) -> list[str] | None:
    """``--wait [--preload TARGET]``: import TARGET's runtime, then read the job's
    arguments (one JSON list) from stdin; None when stdin closes first."""
    parser = argparse.ArgumentParser(prog=f"python -m {CHILD_MODULE} --wait")
    parser.add_argument("--preload", choices=[t.value for t in Target])
    target = parser.parse_args(options).preload
    if target is not None:
        preload(Target(target))
    line = sys.stdin.readline()
    return [str(arg) for arg in json.loads(line)] if line else None


if __name__ == "__main__":
    sys.exit(main())
