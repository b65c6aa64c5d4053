"""`python -m convbert_edge.verify DIR`: check an artifact against its golden bundle.

Exit status (convbert_edge/cli.py): 0 within tolerance, 1 out of tolerance, 2 the
artifact (or outputs file) is broken or unreadable, its model crashed the runtime, or
(--device) the phone or the arm64 emulation could not run it; 3 an internal error.
"""

from __future__ import annotations

import argparse
import os
import sys

from convbert_edge.cache import CACHE_DIR_DEFAULT_HELP, cache_dir_for
from convbert_edge.cli import EXIT_OK, EXIT_OUTSIDE_TOLERANCE, add_verbose_flag, run_command
from convbert_edge.errors import ConvBertEdgeError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m convbert_edge.verify",
        description="Run an exported artifact on its golden inputs and compare with the fp32 "
        "reference: output names, then shapes, then values.",
    )
    parser.add_argument("directory", help="artifact directory written by convbert_edge.export")
    parser.add_argument(
        "--outputs",
        metavar="FILE",
        help="check outputs produced elsewhere (an .npz of output/<name> arrays, e.g. from a "
        "phone) instead of running the model here",
    )
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument(
        "--device",
        metavar="adb[:SERIAL]|arm64",
        help="run the golden inputs on an Android phone with the demo app installed "
        "(docs/android.md), or with the aarch64 LiteRT/ExecuTorch under qemu-user "
        f"(arm64: docs/arm64.md; the environment is built under ({CACHE_DIR_DEFAULT_HELP})"
        "/arm64 on first use), and check the outputs here",
    )
    add_verbose_flag(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body(say) -> int:
        from convbert_edge.runtime.verify import verify_artifact

        if args.device is not None:
            if args.outputs is not None:
                raise ConvBertEdgeError("give --device or --outputs, not both")
            if args.device == "arm64":
                from convbert_edge.runtime.arm64 import Arm64Options, verify_on_arm64

                cache = cache_dir_for(None, os.environ)
                options = Arm64Options(cache_dir=cache, threads=args.threads)
                result = verify_on_arm64(args.directory, options, log=say)
            else:
                from convbert_edge.runtime.device import DeviceOptions, verify_on_device

                result = verify_on_device(args.directory, DeviceOptions(device=args.device))
        else:
            result = verify_artifact(
                args.directory, outputs_file=args.outputs, threads=args.threads
            )
        say(result.table())
        say("PASS" if result.passed else "FAIL: outside the tolerance of this artifact")
        return EXIT_OK if result.passed else EXIT_OUTSIDE_TOLERANCE

    return run_command("verify", body, verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
