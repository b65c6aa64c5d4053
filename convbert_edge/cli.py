"""What every command line of convbert_edge shares: the exit-code contract and a quiet terminal.

Exit status, for every CLI (docs/reliability.md):
    0  done; for export and verify: the artifact is within its tolerance
    1  export and verify: the artifact ran, but is outside its tolerance
    2  the input is broken or unusable (flag, checkpoint, vocabulary, data, artifact,
       golden bundle, outputs file, a crash of the runtime on a model file): the message
       names the file or field and says what to do
    3  an internal error: a bug in convbert_edge (the message says how to report it)
  130  interrupted (Ctrl-C)

No traceback reaches the terminal unless --verbose is given. While a command runs, what
TensorFlow, absl, CUDA probes and the converters print on the process's stderr goes to a
log file (its path is printed when it holds anything); the command's own progress lines
and its errors still reach the terminal. Each command keeps its newest LOGS_KEPT logs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from convbert_edge.errors import ConvBertEdgeError

EXIT_OK = 0
EXIT_OUTSIDE_TOLERANCE = 1
EXIT_BROKEN = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130

# Environment for quiet native libraries, set before they are imported (TensorFlow reads
# it at import): C++ INFO/WARNING/ERROR logs and oneDNN's banner off.
QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}

# Logs of one command kept in its log directory; older ones are deleted as a new one starts.
LOGS_KEPT = 20


def add_verbose_flag(parser: argparse.ArgumentParser) -> None:
    """The --verbose flag every CLI has (what run_command's ``verbose`` reads)."""
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show the libraries' own messages (TensorFlow, absl, converters) and a "
        "traceback on errors; by default they go to a log file",
    )


def run_command(
    prog: str,
    body: Callable[[Callable[[str], None]], int],
    verbose: bool = False,
    log_dir: Path | None = None,
) -> int:
    """Run ``body(say)`` under the contract; ``say`` prints a line to the terminal.

    Library output on stderr goes to a log file in ``log_dir`` (default: the system's
    temporary directory) unless ``verbose``.
    """
    terminal = sys.stdout
    with _library_output_to_log(prog, log_dir, enabled=not verbose) as (errors, log_path):

        def say(line: str) -> None:
            print(line, file=terminal, flush=True)

        code = _guarded(prog, body, say, errors, verbose)
    if log_path is not None and log_path.exists():
        if log_path.stat().st_size == 0:
            log_path.unlink()
        elif code != EXIT_OK:
            print(f"{prog}: library messages are in {log_path}", file=sys.stderr)
    return code


def _guarded(prog, body, say, errors: TextIO, verbose: bool) -> int:
    def fail(message: str, code: int) -> int:
        if verbose:
            traceback.print_exc(file=errors)
        print(f"{prog}: {message}", file=errors, flush=True)
        return code

    try:
        return body(say)
    except KeyboardInterrupt:
        return fail("interrupted; nothing was published", EXIT_INTERRUPTED)
    except (ConvBertEdgeError, ValueError) as err:
        return fail(str(err), EXIT_BROKEN)
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        return fail(f"{where}{err.strerror or err}; check the path and its permissions",
                    EXIT_BROKEN)  # fmt: skip
    except MemoryError:
        return fail("out of memory: use a smaller --batch or --seq-len, or fewer samples",
                    EXIT_BROKEN)  # fmt: skip
    except Exception as err:  # a bug: say so, and how to see the traceback
        return fail(
            f"internal error ({type(err).__name__}: {err}). This is a bug in convbert_edge: "
            "run again with --verbose and report the traceback",
            EXIT_INTERNAL,
        )


@contextlib.contextmanager
def _library_output_to_log(
    prog: str, log_dir: Path | None, enabled: bool
) -> Iterator[tuple[TextIO, Path | None]]:
    """Point file descriptor 2 at a log file for the duration; yield a stream to the real
    stderr (for our own error messages) and the log's path."""
    for key, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    if not enabled:
        yield sys.stderr, None
        return
    directory = Path(log_dir) if log_dir is not None else Path(tempfile.gettempdir())
    try:
        directory.mkdir(parents=True, exist_ok=True)
        command = prog.rsplit(".", 1)[-1]
        name = f"convbert_edge-{command}-{time.strftime('%Y%m%d-%H%M%S')}"
        fd, path = tempfile.mkstemp(prefix=name + "-", suffix=".log", dir=directory)
    except OSError:  # nowhere to log: leave stderr as it is
        yield sys.stderr, None
        return
    with contextlib.suppress(OSError):  # a directory we cannot list: keep every log
        _prune_logs(directory, command, keep=LOGS_KEPT)
    sys.stderr.flush()
    saved = os.dup(2)
    # Our own messages go where sys.stderr pointed: a new stream on the saved descriptor
    # when it wrote to descriptor 2, else the stream itself (a capture, in tests).
    own = _writes_to_fd2(sys.stderr)
    terminal = (
        os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="replace")
        if own
        else sys.stderr
    )
    os.dup2(fd, 2)
    os.close(fd)
    try:
        yield terminal, Path(path)
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        if own:
            terminal.close()


def _prune_logs(directory: Path, command: str, keep: int) -> None:
    """Delete all but the newest ``keep`` logs of ``command``: only files named as
    _library_output_to_log names them, so nothing else in ``directory`` is touched."""
    pattern = re.compile(rf"convbert_edge-{re.escape(command)}-\d{{8}}-\d{{6}}-\w+\.log")
    logs = []
    for path in directory.iterdir():
        if pattern.fullmatch(path.name) and path.is_file() and not path.is_symlink():
            with contextlib.suppress(OSError):  # gone meanwhile: another run pruned it
                logs.append((path.stat().st_mtime, path.name, path))
    for *_, path in sorted(logs, reverse=True)[keep:]:
        with contextlib.suppress(OSError):
            path.unlink()


def _writes_to_fd2(stream: TextIO) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False
