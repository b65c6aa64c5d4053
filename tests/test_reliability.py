"""Reliability, as a user meets it through the CLIs: nothing of the user's is ever replaced,
no check passes vacuously, a crashing model file is contained, and every failure ends with
the documented exit code and a message that names the file or field (docs/reliability.md).

Each test named after a defect of issue 18 failed on commit 809440d.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from reliability_helpers import (
    copy_artifact,
    edit_manifest,
    export_args,
    golden_arrays,
    tiny_checkpoint,
    tree_digest,
    write_golden,
)

from convbert_edge.errors import ArtifactError, ExportError
from convbert_edge.export import main as export_main
from convbert_edge.exporters.artifact import (
    MARKER_NAME,
    OWNER_NAME,
    owner_id,
    remove_stale_staging,
)
from convbert_edge.runtime.manifest import Manifest
from convbert_edge.verify import main as verify_main


@pytest.fixture
def checkpoint(tiny_checkpoint_dir):
    return tiny_checkpoint_dir


@pytest.fixture
def onnx_artifact(tiny_onnx_artifact):
    return tiny_onnx_artifact


def _exit_and_err(capsys, main, argv) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.err


# ------------------------------------------------------------ defect 1: never destroy
def test_defect1_out_naming_a_users_directory_is_refused_and_kept(checkpoint, tmp_path, capsys):
    users = tmp_path / "d"
    users.mkdir()
    (users / "thesis.txt").write_text("keep")
    code, err = _exit_and_err(capsys, export_main, export_args(checkpoint, users))
    assert code == 2
    assert str(users) in err and "not written by convbert_edge" in err
    assert (users / "thesis.txt").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]  # no staging left behind


def test_defect1_out_naming_a_file_or_a_link_is_refused(checkpoint, tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep")
    code, err = _exit_and_err(capsys, export_main, export_args(checkpoint, a_file))
    assert code == 2 and "is a file" in err and a_file.read_text() == "keep"
    link = tmp_path / "link"
    link.symlink_to(a_file)
    code, err = _exit_and_err(capsys, export_main, export_args(checkpoint, link))
    assert code == 2 and "symbolic link" in err and a_file.read_text() == "keep"


def test_defect1_out_naming_the_checkpoint_itself_is_refused(checkpoint, capsys):
    before = tree_digest(checkpoint)
    code, err = _exit_and_err(capsys, export_main, export_args(checkpoint, checkpoint))
    assert code == 2 and "not written by convbert_edge" in err
    assert tree_digest(checkpoint) == before


def test_our_own_artifact_is_replaced_but_not_once_a_user_added_to_it(
    checkpoint, onnx_artifact, tmp_path, capsys
):
    art = copy_artifact(onnx_artifact, tmp_path / "art")
    old_manifest = (art / "manifest.json").read_text()
    assert export_main(export_args(checkpoint, art, "onnx", "--golden-samples", "2")) == 0
    assert (art / "manifest.json").read_text() != old_manifest  # replaced: 2 golden calls
    marker = json.loads((art / MARKER_NAME).read_text())
    assert marker["status"] == "verified" and "model.onnx" in marker["files"]
    (art / "my_notes.txt").write_text("mine")
    before = tree_digest(art)
    code, err = _exit_and_err(capsys, export_main, export_args(checkpoint, art))
    assert code == 2 and "my_notes.txt" in err
    assert tree_digest(art) == before


@pytest.mark.slow
def test_an_empty_directory_at_out_is_taken(checkpoint, tmp_path):
    (tmp_path / "empty").mkdir()
    assert export_main(export_args(checkpoint, tmp_path / "empty")) == 0
    Manifest.read(tmp_path / "empty")


# ------------------------------------------------- defect 5: publish only what verified
def test_defect5_an_artifact_outside_tolerance_is_not_published_at_out(
    checkpoint, onnx_artifact, tmp_path, monkeypatch, capsys
):
    import convbert_edge.exporters.pipeline as pipeline
    from convbert_edge.runtime.tolerances import Tolerance

    art = copy_artifact(onnx_artifact, tmp_path / "art")
    before = tree_digest(art)
    # A bound no output can meet: the export runs, verification fails.
    monkeypatch.setattr(pipeline, "tolerance_for", lambda *a: Tolerance(max_abs=-1.0))
    code, err = _exit_and_err(capsys, export_main, export_args(checkpoint, art))
    assert code == 1
    assert tree_digest(art) == before  # the previous, verified artifact is untouched
    failed = tmp_path / "art.failed"
    assert json.loads((failed / MARKER_NAME).read_text())["status"] == "failed"
    assert verify_main([str(failed)]) == 1
    assert not list(tmp_path.glob(".*.partial"))


def test_defect5_non_finite_reference_outputs_are_refused_at_export(tmp_path, capsys):
    from safetensors.numpy import load_file, save_file

    ckpt = tiny_checkpoint(tmp_path / "nan")
    weights = load_file(ckpt / "model.safetensors")
    name = next(k for k in weights if k.endswith("LayerNorm.weight"))
    weights[name] = np.full_like(weights[name], np.nan)
    save_file(weights, ckpt / "model.safetensors")
    code, err = _exit_and_err(capsys, export_main, export_args(ckpt, tmp_path / "out"))
    assert code == 2 and "non-finite" in err
    assert not (tmp_path / "out").exists()


def test_defect5_stale_staging_of_dead_exports_is_removed_and_nothing_else(tmp_path):
    out = tmp_path / "art"
    dead = tmp_path / ".art.dead1234.partial"
    dead.mkdir()
    (dead / "model.onnx").write_bytes(b"x" * 100)
    (dead / OWNER_NAME).write_text("999999999:1")  # no such process
    alive = tmp_path / ".art.live1234.partial"
    alive.mkdir()
    (alive / OWNER_NAME).write_text(owner_id(os.getpid()))  # this very process
    users = tmp_path / ".art.mine.partial"  # the user's own, no owner file: never ours
    users.mkdir()
    (users / "keep.txt").write_text("keep")
    assert remove_stale_staging(out) == [dead]
    assert alive.is_dir() and (users / "keep.txt").read_text() == "keep"


# ------------------------------------------ defect 9: no silent vocabulary fallback
def test_defect9_a_checkpoint_without_vocab_says_which_vocabulary_it_got(
    checkpoint, tmp_path, capsys
):
    assert not (checkpoint / "vocab.txt").exists()
    assert export_main(export_args(checkpoint, tmp_path / "art")) == 0
    out = capsys.readouterr().out
    assert f"{checkpoint} has no vocab.txt; using the shipped vocabulary" in out
    manifest = Manifest.read(tmp_path / "art")
    assert manifest.source["vocab"] == "shipped (the checkpoint has none)"


# --------------------------------------------------- defect 3: one exit-code contract
def test_defect3_seq_len_beyond_the_position_table_is_exit_2(checkpoint, tmp_path, capsys):
    code, err = _exit_and_err(
        capsys, export_main, export_args(checkpoint, tmp_path / "a", "onnx", "--seq-len", "65")
    )
    assert code == 2 and "max_position_embeddings 64" in err


def test_defect3_unwritable_out_fails_before_any_work(checkpoint, capsys):
    code, err = _exit_and_err(
        capsys, export_main, export_args(checkpoint, Path("/proc/convbert_edge_test/art"))
    )
    assert code == 2 and "/proc/convbert_edge_test" in err
    assert "[3/" not in capsys.readouterr().out  # refused before building anything


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda d: (d / "manifest.json").write_text("[]"), "JSON object"),
        (lambda d: edit_manifest(d, model_sha256=12345), "model_sha256"),
        (
            lambda d: edit_manifest(
                d, inputs=[{"name": "input_ids", "dtype": "float32", "shape": [1, 16]}]
            ),
            "inputs[0].dtype",
        ),  # fmt: skip
        (lambda d: edit_manifest(d, seq_len="16"), "seq_len"),
        (lambda d: edit_manifest(d, batch=0), "batch"),
        (lambda d: edit_manifest(d, labels="neg,pos"), "labels"),
        (lambda d: edit_manifest(d, format_version=1), "format_version"),
        (lambda d: edit_manifest(d, task="summarize"), "unknown task"),
        (lambda d: edit_manifest(d, vocab_size=-5), "vocab_size"),
        (lambda d: edit_manifest(d, surprise=1), "unknown field"),
    ],
    ids=[
        "list",
        "int-sha",
        "float-input",
        "str-seq",
        "zero-batch",
        "str-labels",
        "old-version",
        "task",
        "neg-vocab",
        "extra-field",
    ],  # fmt: skip
)
def test_defect3_a_malformed_manifest_is_exit_2_naming_the_field(
    onnx_artifact, tmp_path, capsys, change, field
):
    art = copy_artifact(onnx_artifact, tmp_path / "art")
    change(art)
    code, err = _exit_and_err(capsys, verify_main, [str(art)])
    assert code == 2 and field in err and "manifest.json" in err


def test_defect3_verify_threads_zero_is_exit_2(onnx_artifact, capsys):
    code, err = _exit_and_err(capsys, verify_main, [str(onnx_artifact), "--threads", "0"])
    assert code == 2 and "threads" in err


# ----------------------------------------------- defect 4: no vacuous verification
def _golden_without(arrays, prefix):
    return {k: v for k, v in arrays.items() if not k.startswith(prefix)}


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda a: _golden_without(a, "tolerance/"), "no tolerance"),
        (lambda a: {**a, "tolerance/min_cosine": np.float64(np.nan)}, "not a finite bound"),
        (lambda a: {**a, "tolerance/max_abs": np.asarray("0.1")}, "not a number"),
        (lambda a: {**a, "tolerance/min_vibes": np.float64(1)}, "unknown tolerance"),
        (lambda a: {k: v[:0] if v.ndim else v for k, v in a.items()}, "holds no calls"),
        (lambda a: {**a, "output/logits": np.full_like(a["output/logits"], np.inf)}, "NaN or inf"),
        (lambda a: {**a, "output/logits": a["output/logits"][:1]}, "numbers of calls"),
    ],
    ids=[
        "no-tolerance",
        "nan-tolerance",
        "str-tolerance",
        "unknown-tolerance",
        "zero-calls",
        "inf-reference",
        "calls-mismatch",
    ],  # fmt: skip
)
def test_defect4_a_golden_bundle_that_cannot_judge_is_broken(
    onnx_artifact, tmp_path, capsys, edit, message
):
    art = copy_artifact(onnx_artifact, tmp_path / "art")
    write_golden(art, edit(golden_arrays(art)))
    code, err = _exit_and_err(capsys, verify_main, [str(art)])
    assert code == 2 and message in err and "golden.npz" in err


def test_defect4_the_golden_bundle_is_covered_by_the_manifest_hash(onnx_artifact, tmp_path, capsys):
    art = copy_artifact(onnx_artifact, tmp_path / "art")
    arrays = golden_arrays(art)
    arrays["tolerance/min_cosine"] = np.float64(-1.0)  # a looser bound, hash not updated
    write_golden(art, arrays, rehash=False)
    code, err = _exit_and_err(capsys, verify_main, [str(art)])
    assert code == 2 and "golden.npz does not match its manifest" in err


def test_outputs_of_the_wrong_shape_fail_with_the_reason_in_the_table(
    onnx_artifact, tmp_path, capsys
):
    outputs = tmp_path / "outputs.npz"
    np.savez(outputs, **{"output/logits": np.zeros((3, 1, 5), np.float32)})
    code = verify_main([str(onnx_artifact), "--outputs", str(outputs)])
    out = capsys.readouterr().out
    assert code == 1 and "logits" in out and "shape (3, 1, 5) != reference (3, 1, 2)" in out


# ------------------------------------------------ defect 2: contain native crashes
@pytest.fixture(scope="module")
def pte_artifact(tiny_checkpoint_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("pte") / "art"
    assert export_main(export_args(tiny_checkpoint_dir, out, "executorch")) == 0
    return out


def _garbage_segment(artifact: Path, destination: Path) -> Path:
    from reliability_helpers import pte_segment_span, rehash_model

    art = copy_artifact(artifact, destination)
    pte = art / "model.pte"
    data = bytearray(pte.read_bytes())
    base, size = pte_segment_span(pte)
    data[base : base + size] = np.random.default_rng(0).bytes(size)
    pte.write_bytes(bytes(data))
    rehash_model(art)
    return art


@pytest.mark.slow
def test_defect2_a_pte_whose_segment_is_garbage_is_exit_2_not_a_signal(
    pte_artifact, tmp_path, capsys
):
    art = _garbage_segment(pte_artifact, tmp_path / "art")
    # Unguarded, the runtime takes the process down (this is what the guard is for).
    loader = "from convbert_edge.runtime.session import load; import sys; load(sys.argv[1], isolate=False)"  # noqa: E501
    unguarded = subprocess.run([sys.executable, "-c", loader, str(art)], capture_output=True)
    assert unguarded.returncode < 0, unguarded.returncode
    code, err = _exit_and_err(capsys, verify_main, [str(art)])
    assert code == 2 and "crashed (SIG" in err
    from convbert_edge.runtime.session import load

    with pytest.raises(ArtifactError, match="crashed"):
        load(art)


def test_export_errors_are_typed_for_the_python_api(checkpoint, tmp_path):
    from convbert_edge.exporters.pipeline import ExportOptions, export

    with pytest.raises(ExportError, match="max_position_embeddings"):
        export(ExportOptions(target="onnx", model=str(checkpoint), seq_len=65,
                             out=tmp_path / "x"), log=lambda _: None)  # fmt: skip
