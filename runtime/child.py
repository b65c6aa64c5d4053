"""The child process of runtime/crash_guard.py: load an artifact and run it, alone.

    python -m convbert_edge.runtime.child golden DIR OUTPUTS.npz THREADS
    python -m convbert_edge.runtime.child probe DIR - THREADS

Exit 0 when done; 2 with a one-line message on stderr for an error convbert_edge names;
a crash of the runtime ends this process only, and the parent reports it.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from convbert_edge.errors import ConvBertEdgeError

from .crash_guard import BROKEN_EXIT, CHILD_MODULE
from .golden import GoldenBundle
from .outputs import write_outputs_file
from .session import load
from .verify import run_golden


def main(argv: list[str] | None = None) -> int:
    # The runtimes' start-up chatter is noise here; what matters is the exit status.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
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


if __name__ == "__main__":
    sys.exit(main())
