"""The CLI's log directory keeps each command's newest LOGS_KEPT logs, and only those files
of its own naming are ever deleted (convbert_edge.cli)."""

from __future__ import annotations

import os

from convbert_edge.cli import LOGS_KEPT, run_command


def _old_logs(directory, command: str, count: int) -> list:
    paths = []
    for i in range(count):
        path = directory / f"convbert_edge-{command}-20260101-{i:06d}-abc{i}.log"
        path.write_text(f"run {i}\n")
        os.utime(path, (1_000_000 + i, 1_000_000 + i))  # older first
        paths.append(path)
    return paths


def _speaks(say):
    os.write(2, b"a library message\n")  # what TensorFlow would print on stderr
    return 0


def test_only_the_newest_logs_of_the_command_are_kept(tmp_path):
    exports = _old_logs(tmp_path, "export", LOGS_KEPT + 5)
    reports = _old_logs(tmp_path, "report", 3)
    assert run_command("export", _speaks, log_dir=tmp_path) == 0
    kept = sorted(p.name for p in tmp_path.glob("convbert_edge-export-*.log"))
    assert len(kept) == LOGS_KEPT
    new = [n for n in kept if not n.startswith("convbert_edge-export-20260101-")]
    assert len(new) == 1 and "a library message" in (tmp_path / new[0]).read_text()
    assert [p.exists() for p in exports] == [False] * 6 + [True] * (LOGS_KEPT - 1)
    assert all(p.exists() for p in reports)  # another command's logs are its own


def test_files_not_named_as_its_logs_are_left_alone(tmp_path):
    _old_logs(tmp_path, "export", LOGS_KEPT + 2)
    mine = [
        tmp_path / "notes.log",
        tmp_path / "convbert_edge-export-mine.log",
        tmp_path / "convbert_edge-export-20260101-000000-abc0.log.bak",
    ]
    for path in mine:
        path.write_text("the user's\n")
        os.utime(path, (1, 1))  # older than every log
    directory = tmp_path / "convbert_edge-export-20250101-000000-dir.log"
    directory.mkdir()  # named like a log, oldest of all, but not a file
    assert run_command("export", _speaks, log_dir=tmp_path) == 0
    assert all(p.read_text() == "the user's\n" for p in mine)
    assert directory.is_dir()
    assert len(list(tmp_path.glob("convbert_edge-export-2026*.log"))) == LOGS_KEPT  # new one too
