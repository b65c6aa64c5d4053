"""Runs inside the emulated aarch64 Python: the artifact's golden inputs through the aarch64
runtime, outputs written as an .npz of ``output/<name>`` arrays for the host to check.

Only numpy, the runtime's wheels and the staged convbert_edge.runtime code (session,
manifest, golden, verify) are importable there; the project itself is not installed.
Usage: python emulated.py ARTIFACT_DIR OUTPUTS_NPZ THREADS
Exit status: 0 written, 3 the artifact was refused (message on stderr).
"""

from __future__ import annotations

import sys

REFUSED = 3


def main(argv: list[str]) -> int:
    import numpy as np

    from convbert_edge.errors import ConvBertEdgeError
    from convbert_edge.runtime.verify import run_golden

    directory, outputs_file, threads = argv[0], argv[1], int(argv[2])
    try:
        outputs = run_golden(directory, threads=threads)
    except (ConvBertEdgeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return REFUSED
    with open(outputs_file, "wb") as f:
        np.savez(f, **{f"output/{name}": value for name, value in outputs.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
