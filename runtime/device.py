"""Verify an artifact on an Android phone over adb: push it, run the app's verify mode,
pull the outputs, and check them with the same code as on the CPU (runtime/verify.py).

The app (android_demo/) reads the artifact from its external files directory, runs every
golden call, and writes ``verify/outputs.npz`` and then ``verify/done`` (one line:
"ok calls=N median_ms=X" or "error: why"); see GoldenRunner.java. That directory is used
because both adb and the app may write there without root or extra permissions.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from convbert_edge.errors import ConvBertEdgeError

from .manifest import GOLDEN_NAME, MANIFEST_NAME, Manifest
from .verify import VerifyResult, verify_artifact

APP_PACKAGE = "org.convbertedge.demo"
VERIFY_ACTIVITY = f"{APP_PACKAGE}/.VerifyActivity"
REMOTE_ROOT = f"/sdcard/Android/data/{APP_PACKAGE}/files/convbert_edge"
TOKENIZER_FILES = ("vocab.txt", "tokenizer_config.json")
DOCS = "docs/android.md"


class DeviceError(ConvBertEdgeError):
    """No adb, no phone, no app, or the app's verify mode failed on the phone."""


@dataclass(frozen=True)
class DeviceOptions:
    """How to reach the phone and how long to wait for it.

    Args:
        device: "adb" (the one connected device) or "adb:SERIAL".
        adb: the adb executable, a name looked up on PATH or a path.
        timeout_s: how long verify mode may run on the phone.
        poll_s: how often to look for its done-file.
    """

    device: str = "adb"
    adb: str = "adb"
    timeout_s: float = 900.0
    poll_s: float = 1.0

    @property
    def serial(self) -> str | None:
        kind, _, serial = self.device.partition(":")
        if kind != "adb" or (_ and not serial):
            raise DeviceError(
                f"unknown device {self.device!r}: use --device adb (the one connected phone) "
                "or --device adb:SERIAL (a serial from `adb devices`)"
            )
        return serial or None


@dataclass(frozen=True)
class DeviceRun:
    """What came back from the phone: the pulled outputs and the app's summary line."""

    serial: str
    outputs_file: Path
    summary: str


class Adb:
    """adb commands against one device; every failure becomes a DeviceError."""

    def __init__(self, executable: str, serial: str | None = None):
        self.executable = executable
        self.serial = serial

    def __call__(self, *args: str, check: bool = True, timeout: float = 600.0) -> str:
        cmd = [self.executable, *(["-s", self.serial] if self.serial else []), *args]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DeviceError(f"`{' '.join(cmd)}` did not finish in {timeout:.0f} s") from None
        if check and proc.returncode != 0:
            why = (proc.stderr or proc.stdout).strip() or f"exit status {proc.returncode}"
            raise DeviceError(f"`{' '.join(cmd)}` failed: {why}")
        return proc.stdout


def find_adb(name: str = "adb") -> str:
    path = shutil.which(name)
    if path is None:
        raise DeviceError(
            f"{name} not found: install Android platform-tools and connect a phone (see {DOCS})"
        )
    return path


def choose_serial(adb: Adb, wanted: str | None) -> str:
    """The serial to use: ``wanted`` if it is connected and ready, else the only device."""
    states = {}
    for line in adb("devices").splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2:
            states[parts[0]] = parts[1]
    ready = [s for s, state in states.items() if state == "device"]
    if wanted is not None:
        if wanted not in states:
            listed = ", ".join(states) or "none"
            raise DeviceError(f"device {wanted} is not connected (adb devices lists: {listed})")
        if states[wanted] != "device":
            raise DeviceError(_not_ready(wanted, states[wanted]))
        return wanted
    if not ready:
        if states:
            serial, state = next(iter(states.items()))
            raise DeviceError(_not_ready(serial, state))
        raise DeviceError(
            "no Android device connected (adb devices lists none): connect a phone with USB "
            f"debugging on, or start an emulator (see {DOCS})"
        )
    if len(ready) > 1:
        raise DeviceError(
            f"{len(ready)} devices connected ({', '.join(ready)}): choose one with "
            "--device adb:SERIAL"
        )
    return ready[0]


def _not_ready(serial: str, state: str) -> str:
    if state == "unauthorized":
        return f"device {serial} is unauthorized: accept the USB debugging prompt on the phone"
    return f"device {serial} is {state}, not ready: reconnect it and check `adb devices`"


def run_on_device(
    directory: str | Path,
    work_dir: str | Path,
    options: DeviceOptions = DeviceOptions(),
    log: Callable[[str], None] = print,
) -> DeviceRun:
    """Push the artifact, run verify mode on the phone, pull its outputs into ``work_dir``."""
    wanted = options.serial
    adb = Adb(find_adb(options.adb))
    directory = Path(directory)
    manifest = Manifest.read(directory)
    manifest.check_model_file(directory)
    files = [manifest.model_file, MANIFEST_NAME, GOLDEN_NAME, *TOKENIZER_FILES]
    missing = [f for f in files if not (directory / f).is_file()]
    if missing:
        raise DeviceError(f"{directory} lacks {', '.join(missing)}: export the artifact again")

    adb.serial = choose_serial(adb, wanted)
    if not adb("shell", "pm", "path", APP_PACKAGE, check=False).startswith("package:"):
        raise DeviceError(
            f"the demo app {APP_PACKAGE} is not installed on {adb.serial}: build and install "
            f"android_demo/ (see {DOCS})"
        )
    remote = f"{REMOTE_ROOT}/{directory.resolve().name}"
    log(f"pushing {directory} to {adb.serial}:{remote}")
    adb("shell", "rm", "-rf", remote)
    adb("shell", "mkdir", "-p", remote)
    for name in files:
        adb("push", str(directory / name), f"{remote}/{name}")
    log("running verify mode on the phone")
    adb("shell", "am", "start", "-W", "-n", VERIFY_ACTIVITY, "--es", "artifact", remote)
    summary = _wait_for_done(adb, f"{remote}/verify/done", options)
    if not summary.startswith("ok"):
        raise DeviceError(f"verify mode failed on {adb.serial}: {summary}")
    log(f"{adb.serial}: {summary}")
    local = Path(work_dir) / "outputs.npz"
    adb("pull", f"{remote}/verify/outputs.npz", str(local))
    return DeviceRun(adb.serial, local, summary)


def _wait_for_done(adb: Adb, done: str, options: DeviceOptions) -> str:
    deadline = time.monotonic() + options.timeout_s
    while True:
        line = adb("shell", f"cat {done} 2>/dev/null", check=False).strip()
        if line:
            return line
        if time.monotonic() >= deadline:
            raise DeviceError(
                f"verify mode on {adb.serial} did not finish in {options.timeout_s:.0f} s: "
                f"see `adb -s {adb.serial} logcat -s ConvBertEdge`"
            )
        time.sleep(options.poll_s)


def verify_on_device(
    directory: str | Path,
    options: DeviceOptions = DeviceOptions(),
    log: Callable[[str], None] = print,
) -> VerifyResult:
    """Run the artifact's golden inputs on the phone and compare with the fp32 reference."""
    with tempfile.TemporaryDirectory(prefix="convbert_edge_device_") as work:
        run = run_on_device(directory, work, options, log)
        return verify_artifact(directory, outputs_file=run.outputs_file)
