"""Outputs computed elsewhere (a phone, an emulated CPU, a child process), as a file:
an .npz of ``output/<name>`` arrays stacked over the golden calls. No pickles."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from convbert_edge.errors import ArtifactError
from convbert_edge.io_utils import atomic_write


def read_outputs_file(path: str | Path) -> dict[str, np.ndarray]:
    """Outputs produced elsewhere: an .npz with ``output/<name>`` arrays (calls, ...)."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"no outputs file at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            outputs = {k.split("/", 1)[1]: data[k] for k in data.files if k.startswith("output/")}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error,
            NotImplementedError) as err:  # fmt: skip
        raise ArtifactError(f"{path} is not a readable outputs file ({err})") from None
    if not outputs:
        raise ArtifactError(f"{path} holds no output/<name> arrays: it is not an outputs file")
    for name, value in outputs.items():
        if value.dtype.kind not in "fiu":
            raise ArtifactError(f"{path}: output {name!r} is {value.dtype}, not numbers")
    return outputs


def write_outputs_file(path: str | Path, outputs: dict[str, np.ndarray]) -> Path:
    """The format read_outputs_file reads (what a phone or a child process sends back)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **{f"output/{k}": np.asarray(v) for k, v in outputs.items()})

    return atomic_write(path, write)
