"""Runs inside the emulated aarch64 Python: the artifact's golden inputs through the aarch64
runtime, outputs written as an .npz of ``output/<name>`` arrays for the host to check.

Only numpy, the runtime's wheels and the staged convbert_edge.runtime code (session,
manifest, golden, verify) are importable there; the project itself is not installed.
Usage: python emulated.py ARTIFACT_DIR OUTPUTS_NPZ THREADS [INPUTS_NPZ]
(INPUTS_NPZ: other calls than the golden ones, ``input/<name>`` arrays (calls, ...)).
Exit status: 0 written, 3 the artifact was refused (message on stderr).
"""

from __future__ import annotations

import sys

REFUSED = 3


def main(argv: list[str]) -> int:
    import numpy as np

    from convbert_edge.errors import ConvBertEdgeError
    from convbert_edge.runtime.session import load
    from convbert_edge.runtime.verify import run_golden

    directory, outputs_file, threads = argv[0], argv[1], int(argv[2])
    try:
        if len(argv) > 3:
            with np.load(argv[3], allow_pickle=False) as data:
                inputs = {k[len("input/") :]: data[k] for k in data.files}
            # The host contains this whole process (runner.py), so no child is needed here.
            session = load(directory, threads=threads, isolate=False)
            calls = next(iter(inputs.values())).shape[0]
            per_call = [session.run({k: v[i] for k, v in inputs.items()}) for i in range(calls)]
            outputs = {name: np.stack([o[name] for o in per_call]) for name in per_call[0]}
        else:
            outputs = run_golden(directory, threads=threads)
    except (ConvBertEdgeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return REFUSED
    with open(outputs_file, "wb") as f:
        np.savez(f, **{f"output/{name}": value for name, value in outputs.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
