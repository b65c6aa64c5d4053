"""Where the toolkit keeps what it downloads and builds: ~/.cache/convbert_edge by default.

Data sets, the default model, built report artifacts and the arm64 environment all live
under one directory. This module is its only spelling, in the base layer so that the
runtime (arm64), the data sets, the exporters and every CLI read the same one. Library
code takes a ``cache_dir`` argument; only CLIs and test harnesses consult the
environment, through ``cache_dir_for``.

    cache = cache_dir_for(args.cache_dir, os.environ)  # flag, else $CONVBERT_EDGE_CACHE, else ~
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

CACHE_ENV_VAR = "CONVBERT_EDGE_CACHE"
DEFAULT_CACHE_DIR = Path("~/.cache/convbert_edge")
# For the --cache-dir help of every CLI.
CACHE_DIR_DEFAULT_HELP = f"${CACHE_ENV_VAR} or {DEFAULT_CACHE_DIR}"


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """The cache directory: the one given, else ~/.cache/convbert_edge (user expanded)."""
    return Path(cache_dir if cache_dir is not None else DEFAULT_CACHE_DIR).expanduser()


def default_cache_dir() -> Path:
    """~/.cache/convbert_edge, expanded: the default of every options dataclass."""
    return resolve_cache_dir(None)


def cache_dir_from_environ(environ: Mapping[str, str]) -> Path | None:
    """The CONVBERT_EDGE_CACHE override, for CLIs and test harnesses to pass on as cache_dir."""
    value = environ.get(CACHE_ENV_VAR)
    return Path(value).expanduser() if value else None


def cache_dir_for(given: str | Path | None, environ: Mapping[str, str]) -> Path:
    """A CLI's cache: the --cache-dir given, else $CONVBERT_EDGE_CACHE, else the default."""
    if given:
        return Path(given).expanduser()
    return cache_dir_from_environ(environ) or default_cache_dir()
