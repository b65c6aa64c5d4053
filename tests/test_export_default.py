"""The command users start from, on the embedded default model (trained, 4 layers):
`python -m convbert_edge.export --target {tflite,executorch} --int8` with no other flag
exports, verifies, and gives an artifact at most 0.3x the size of the fp32 one."""

from __future__ import annotations

import pytest

from convbert_edge.default_model import DEFAULT_NAME
from convbert_edge.export import main as export_main
from convbert_edge.runtime.manifest import Manifest


@pytest.mark.slow
@pytest.mark.parametrize("target", ["tflite", "executorch"])
def test_default_int8_export_is_small_and_verified(target, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the default output folder is ./artifacts
    assert export_main(["--target", target, "--int8"]) == 0
    out = capsys.readouterr().out
    assert DEFAULT_NAME in out and "PASS" in out
    (int8_dir,) = (tmp_path / "artifacts").iterdir()
    assert (
        export_main(["--target", target, "--quant", "fp32", "--out", str(tmp_path / "fp32")]) == 0
    )

    int8, fp32 = Manifest.read(int8_dir), Manifest.read(tmp_path / "fp32")
    assert int8.quantization == "int8" and int8.source["default_model"]
    assert len(int8.inputs[0].shape) == 2 and int8.seq_len == 128
    ratio = (int8_dir / int8.model_file).stat().st_size / (
        tmp_path / "fp32" / fp32.model_file
    ).stat().st_size
    print(f"{target}: int8/fp32 size ratio {ratio:.3f}")
    assert ratio <= 0.3
