"""Writing an artifact directory: complete and checked, or not at all; never over a user's files.

An export stages everything in a hidden directory beside ``--out``
(``.NAME.XXXX.partial``), verifies it there, and only then publishes it:

    with staged_artifact(out) as staging:      # refuses an --out it may not replace, now
        write files into staging.tmp ...
        verdict = verify(staging.tmp)
        final = staging.publish(verified=verdict.passed)   # out, or out.failed

Guarantees (docs/reliability.md):
- Nothing at ``--out`` is replaced unless this tool wrote it: a directory is ours when it
  holds the marker file (MARKER_NAME) and nothing but the files that marker lists. An empty
  directory is taken too (it holds nothing to lose). A file, a link, a directory of the
  user's, or one of ours with a file added, is refused before any work is done.
- A published artifact replaces the previous one in one atomic exchange (renameat2's
  RENAME_EXCHANGE), so a kill at any moment leaves the previous artifact, the new one, or
  (the first time) nothing.
- An artifact outside its tolerance is published beside ``out`` as ``out.failed`` and the
  previous artifact at ``out`` is left as it was.
- Staging directories of processes that no longer run are removed at the next export to
  the same place; ones of live processes, and anything not ours, are left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from convbert_edge.errors import ExportError
from convbert_edge.io_utils import atomic_write_text, default_mode

MARKER_NAME = ".convbert_edge_artifact"
OWNER_NAME = ".owner"
FAILED_SUFFIX = ".failed"


@dataclass(frozen=True)
class Staging:
    """An artifact being written: ``tmp`` is where its files go, ``out`` where it will live."""

    out: Path
    tmp: Path

    def publish(self, verified: bool = True, status: str | None = None) -> Path:
        """Move the staged artifact into place; returns where it went.

        ``verified`` False publishes to ``out.failed`` instead, leaving ``out`` as it was.
        ``status`` overrides what the marker records ("verified", "failed", "unverified").
        """
        destination = self.out if verified else failed_path(self.out)
        check_replaceable(destination)
        (self.tmp / OWNER_NAME).unlink(missing_ok=True)
        files = sorted(str(p.relative_to(self.tmp)) for p in self.tmp.rglob("*") if not p.is_dir())
        marker = {
            "tool": "convbert_edge",
            "status": status or ("verified" if verified else "failed"),
            "files": files,
        }
        atomic_write_text(self.tmp / MARKER_NAME, json.dumps(marker, indent=2) + "\n")
        os.chmod(self.tmp, default_mode(directory=True))
        _swap_into_place(self.tmp, destination)
        return destination


def failed_path(out: Path) -> Path:
    return out.with_name(out.name + FAILED_SUFFIX)


def check_replaceable(path: str | Path) -> None:
    """Raise ExportError unless ``path`` is absent, an empty directory, or an artifact this
    tool wrote and nobody has added to since."""
    path = Path(path)
    if path.is_symlink():
        raise ExportError(
            f"--out {path} is a symbolic link: nothing was changed; give a path that does "
            "not exist yet, or an artifact directory this tool wrote"
        )
    if not path.exists():
        return
    if not path.is_dir():
        raise ExportError(
            f"--out {path} is a file, not an artifact directory: nothing was changed; give a "
            "path that does not exist yet, or an artifact directory this tool wrote"
        )
    entries = sorted(str(p.relative_to(path)) for p in path.rglob("*") if not p.is_dir())
    if not entries and not any(path.iterdir()):
        return
    marker = _read_marker(path)
    if marker is None:
        raise ExportError(
            f"--out {path} exists and was not written by convbert_edge (it has no "
            f"{MARKER_NAME}): nothing was changed; choose another --out, or move it away "
            "yourself if it may go"
        )
    extra = sorted(set(entries) - set(marker.get("files", [])) - {MARKER_NAME})
    if extra:
        shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise ExportError(
            f"--out {path} is an artifact this tool wrote, but it now also holds files it did "
            f"not write ({shown}): nothing was changed; move them out or choose another --out"
        )


def _read_marker(path: Path) -> dict | None:
    try:
        marker = json.loads((path / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("tool") != "convbert_edge":
        return None
    if not isinstance(marker.get("files"), list):
        return None
    return marker


@contextmanager
def staged_artifact(out_dir: str | Path) -> Iterator[Staging]:
    """A staging directory beside ``out_dir``; removed on the way out unless published.

    Checks first, before any work, that ``out_dir`` (and ``out_dir.failed``) may be
    replaced and that its parent is writable, and removes dead exports' leftovers there.
    """
    out_dir = Path(out_dir)
    check_replaceable(out_dir)
    check_replaceable(failed_path(out_dir))
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(out_dir)
        tmp = Path(
            tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent)
        )
    except OSError as err:
        raise ExportError(
            f"cannot write beside --out {out_dir} ({err.strerror or err}): choose a writable "
            "directory"
        ) from None
    try:
        (tmp / OWNER_NAME).write_text(owner_id(os.getpid()) or "", encoding="utf-8")
        yield Staging(out_dir, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def artifact_directory(out_dir: str | Path, status: str = "unverified") -> Iterator[Path]:
    """Stage an artifact whose files the block writes, then publish it (peers' artifacts,
    which have no golden bundle to verify against)."""
    with staged_artifact(out_dir) as staging:
        yield staging.tmp
        staging.publish(verified=True, status=status)


def remove_stale_staging(out_dir: Path) -> list[Path]:
    """Remove ``.NAME.*.partial`` directories beside ``out_dir`` whose export is no longer
    running (their .owner names a process that is gone); returns what was removed."""
    removed = []
    for candidate in out_dir.parent.glob(f".{out_dir.name}.*.partial"):
        owner = candidate / OWNER_NAME
        if not candidate.is_dir() or candidate.is_symlink() or not owner.is_file():
            continue  # not one of ours, or one that already finished writing
        try:
            recorded = owner.read_text(encoding="utf-8").strip()
        except OSError:
            continue
        pid = recorded.split(":", 1)[0]
        if pid.isdigit() and owner_id(int(pid)) == recorded:
            continue  # that export is still running
        shutil.rmtree(candidate, ignore_errors=True)
        removed.append(candidate)
    return removed


def owner_id(pid: int) -> str | None:
    """'pid:start-time' of a live process (the start time tells a reused pid apart)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return f"{pid}:?"
    fields = stat.rsplit(")", 1)[1].split()
    return f"{pid}:{fields[19]}"  # field 22 of stat: starttime


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _swap_into_place(src: Path, dst: Path) -> None:
    """Make ``src`` appear at ``dst``; an existing ``dst`` (already checked replaceable)
    is exchanged atomically where the kernel allows it, then removed."""
    if not dst.exists():
        src.rename(dst)
        return
    if _exchange(src, dst):
        shutil.rmtree(src, ignore_errors=True)  # src now holds the previous artifact
        return
    old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".old", dir=dst.parent))
    old.rmdir()
    dst.rename(old)
    src.rename(dst)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    libc = ctypes.CDLL(name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0
