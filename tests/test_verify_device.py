"""`verify --device adb[:SERIAL]` without a phone: no adb, no device, and a fake adb
that records the commands and plays the app's part, so the whole flow is checked."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
from android_helpers import make_fake_artifact

from convbert_edge.runtime.device import (
    APP_PACKAGE,
    REMOTE_ROOT,
    DeviceError,
    DeviceOptions,
    run_on_device,
)
from convbert_edge.runtime.golden import GoldenBundle
from convbert_edge.verify import main as verify_main

# Plays adb and the phone: answers `devices`, `pm path` and the done-file from its config,
# and serves the configured outputs file on `pull`. Every call is logged as JSON.
FAKE_ADB = """#!{python}
import json, shutil, sys
from pathlib import Path
here = Path(__file__).parent
cfg = json.loads((here / "config.json").read_text())
args = sys.argv[1:]
with open(here / "calls.jsonl", "a") as f:
    f.write(json.dumps(args) + "\\n")
if args[:1] == ["-s"]:
    args = args[2:]
if args[0] == "devices":
    print("List of devices attached")
    for serial, state in cfg["devices"]:
        print(serial + "\\t" + state)
elif args[:3] == ["shell", "pm", "path"]:
    print(cfg["pm_path"])
elif args[0] == "shell" and args[1].startswith("cat "):
    print(cfg["done"])
elif args[0] == "pull":
    shutil.copy(cfg["outputs"], args[2])
"""


@pytest.fixture
def artifact(tmp_path) -> Path:
    return make_fake_artifact(tmp_path / "artifact")


def fake_adb(tmp_path, monkeypatch, artifact, outputs=None, **config) -> Path:
    """Put a fake adb first on PATH; returns its call log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if outputs is None:
        outputs = GoldenBundle.load(artifact / "golden.npz").outputs
    np.savez(tmp_path / "phone_outputs.npz", **{f"output/{k}": v for k, v in outputs.items()})
    cfg = {
        "devices": [["R58M123", "device"]],
        "pm_path": f"package:/data/app/{APP_PACKAGE}/base.apk",
        "done": "ok calls=3 median_ms=41.50",
        "outputs": str(tmp_path / "phone_outputs.npz"),
    }
    cfg.update(config)
    (bin_dir / "config.json").write_text(json.dumps(cfg))
    adb = bin_dir / "adb"
    adb.write_text(FAKE_ADB.format(python=sys.executable))
    adb.chmod(adb.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir / "calls.jsonl"


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_without_adb_the_error_says_what_to_install(artifact, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no adb anywhere
    assert verify_main([str(artifact), "--device", "adb"]) == 2
    err = capsys.readouterr().err
    assert "adb not found: install Android platform-tools and connect a phone" in err
    assert "docs/android.md" in err


def test_adb_flow_pushes_runs_pulls_and_verifies(artifact, tmp_path, monkeypatch, capsys):
    log = fake_adb(tmp_path, monkeypatch, artifact)
    assert verify_main([str(artifact), "--device", "adb"]) == 0
    out = capsys.readouterr().out
    assert "R58M123: ok calls=3 median_ms=41.50" in out and "PASS" in out
    remote = f"{REMOTE_ROOT}/artifact"
    s = ["-s", "R58M123"]
    seq = calls(log)
    assert seq[0] == ["devices"]
    assert seq[1] == [*s, "shell", "pm", "path", APP_PACKAGE]
    assert seq[2] == [*s, "shell", "rm", "-rf", remote]
    assert seq[3] == [*s, "shell", "mkdir", "-p", remote]
    pushed = sorted(c[-1].rsplit("/", 1)[1] for c in seq[1:] if c[2] == "push")
    assert pushed == sorted(
        ["model.tflite", "manifest.json", "golden.npz", "vocab.txt", "tokenizer_config.json"]
    )
    start = [*s, "shell", "am", "start", "-W", "-n", f"{APP_PACKAGE}/.VerifyActivity"]
    assert [*start, "--es", "artifact", remote] in seq
    assert seq[-2] == [*s, "shell", f"cat {remote}/verify/done 2>/dev/null"]
    assert seq[-1][:4] == [*s, "pull", f"{remote}/verify/outputs.npz"]


def test_outputs_from_the_phone_out_of_tolerance_exit_1(artifact, tmp_path, monkeypatch, capsys):
    golden = GoldenBundle.load(artifact / "golden.npz").outputs
    fake_adb(tmp_path, monkeypatch, artifact, outputs={k: -v for k, v in golden.items()})
    assert verify_main([str(artifact), "--device", "adb:R58M123"]) == 1
    assert "FAIL" in capsys.readouterr().out


@pytest.mark.parametrize(
    "config, message",
    [
        ({"devices": []}, "no Android device connected"),
        ({"devices": [["R58M123", "unauthorized"]]}, "accept the USB debugging prompt"),
        ({"devices": [["A", "device"], ["B", "device"]]}, "choose one with --device adb:SERIAL"),
        ({"pm_path": ""}, f"the demo app {APP_PACKAGE} is not installed"),
        ({"done": "error: java.io.IOException: no golden.npz"}, "verify mode failed on R58M123"),
    ],
    ids=["no-device", "unauthorized", "two-devices", "no-app", "app-error"],
)
def test_device_problems_exit_2_with_a_reason(
    artifact, tmp_path, monkeypatch, capsys, config, message
):
    fake_adb(tmp_path, monkeypatch, artifact, **config)
    assert verify_main([str(artifact), "--device", "adb"]) == 2
    assert message in capsys.readouterr().err


def test_unknown_serial_and_bad_device_spec(artifact, tmp_path, monkeypatch, capsys):
    fake_adb(tmp_path, monkeypatch, artifact)
    assert verify_main([str(artifact), "--device", "adb:NOPE"]) == 2
    assert "device NOPE is not connected (adb devices lists: R58M123)" in capsys.readouterr().err
    assert verify_main([str(artifact), "--device", "usb"]) == 2
    assert "unknown device 'usb'" in capsys.readouterr().err


def test_a_phone_that_never_finishes_times_out(artifact, tmp_path, monkeypatch):
    fake_adb(tmp_path, monkeypatch, artifact, done="")
    with pytest.raises(DeviceError, match="did not finish in 0 s"):
        run_on_device(artifact, tmp_path, DeviceOptions(timeout_s=0.0, poll_s=0.0), log=print)
