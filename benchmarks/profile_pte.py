"""ExecuTorch's own per-operator profile of a .pte (runtime.pte_profile), as a table.

    python benchmarks/profile_pte.py artifacts/<name>/model.pte [--threads 2] [--runs 30]

Prints XNNPACK's operators grouped by kind with their count and median ms per call, the
operators outside the delegates, and the per-call totals: the method, the delegate
calls, and XNNPACK's operators summed (the difference is the delegate's per-call work
outside its operators). Run it alone: the machine's other load shows in every figure.
"""

from __future__ import annotations

import argparse

from convbert_edge.errors import ConvBertEdgeError
from convbert_edge.runtime.pte_profile import profile_pte


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pte", help="an ExecuTorch program (.pte)")
    parser.add_argument("--threads", type=int, default=2, help="XNNPACK threads (default 2)")
    parser.add_argument("--runs", type=int, default=30, help="profiled calls (default 30)")
    args = parser.parse_args(argv)
    try:
        profile = profile_pte(args.pte, threads=args.threads, runs=args.runs)
    except ConvBertEdgeError as error:  # a missing or broken .pte: say so, no traceback
        raise SystemExit(f"profile_pte: {error}") from None
    print(profile.text())


if __name__ == "__main__":
    main()
