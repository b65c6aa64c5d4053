"""Fetch data sets into the cache ahead of time: ``python -m convbert_edge.data movie_reviews``."""

from __future__ import annotations

import argparse
import os

from convbert_edge.data import DATASETS, cache_dir_from_environ, load_dataset, resolve_cache_dir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", default=sorted(DATASETS), help=f"of {sorted(DATASETS)}")
    parser.add_argument(
        "--cache-dir", default=None, help="default: $CONVBERT_EDGE_CACHE or ~/.cache/convbert_edge"
    )
    args = parser.parse_args(argv)
    cache_dir = args.cache_dir or cache_dir_from_environ(os.environ)
    for name in args.names:
        splits = load_dataset(name, cache_dir)
        sizes = {k: len(v) for k, v in vars(splits).items()}
        print(f"{name}: {sizes} in {resolve_cache_dir(cache_dir)}")


if __name__ == "__main__":
    main()
