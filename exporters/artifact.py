"""Writing an artifact directory: complete or not at all.

Everything is written into a hidden temporary directory beside the target, then
renamed into place; an interrupted export leaves no half artifact, and an existing
artifact of the same name is replaced only once the new one is whole.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from convbert_edge.io_utils import default_mode


@contextmanager
def artifact_directory(out_dir: str | Path) -> Iterator[Path]:
    """Yield a temporary directory; on success it becomes ``out_dir``, on error it is removed."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    try:
        yield tmp
        os.chmod(tmp, default_mode(directory=True))
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
