"""Fetch data sets into the cache ahead of time: ``python -m convbert_edge.data movie_reviews``."""

from __future__ import annotations

import argparse
import os
import sys

from convbert_edge.cache import CACHE_DIR_DEFAULT_HELP, cache_dir_for
from convbert_edge.cli import EXIT_OK, run_command
from convbert_edge.data import DATASETS, load_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", default=sorted(DATASETS), help=f"of {sorted(DATASETS)}")
    parser.add_argument("--cache-dir", default=None, help=f"default: {CACHE_DIR_DEFAULT_HELP}")
    args = parser.parse_args(argv)
    cache_dir = cache_dir_for(args.cache_dir, os.environ)

    def body(say) -> int:
        for name in args.names:
            splits = load_dataset(name, cache_dir)
            sizes = {k: len(v) for k, v in vars(splits).items()}
            say(f"{name}: {sizes} in {cache_dir}")
        return EXIT_OK

    return run_command("data", body)


if __name__ == "__main__":
    sys.exit(main())
