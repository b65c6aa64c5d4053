"""What this CPU offers int8 kernels, read from /proc/cpuinfo.

    flags = cpuinfo_flags(Path("/proc/cpuinfo").read_text())
    int8_pairs_saturate(flags, "x86_64")   # True on AVX2 without VNNI

ONNX Runtime's dynamic int8 multiplies uint8 activations by int8 weights. On x86 without
a VNNI dot product (AVX2, AVX-512 without VNNI) its kernels add each pair of products in
int16 with saturation, so 8-bit weights can overflow: 255 x 127 x 2 = 64,770 > 32,767.
With 7-bit weights (its ``reduce_range``) the pair stays within range (255 x 63 x 2 =
32,130). ORT's own docstring says reduce_range "may improve the accuracy for some models
running on non-VNNI machine". Measured on an AVX2-only AMD EPYC (docs/cpus.md): the
tiny test models' dynamic int8 fell to 11.4-26.8 dB SQNR with 8-bit weights, 27.7-42.6
dB with 7-bit ones; on a VNNI CPU the 8-bit ones give 34.7-44.5 dB (docs/tolerances.md).
"""

from __future__ import annotations

import platform
from pathlib import Path

# Any of these gives x86 an int8 dot product without int16 saturation.
INT8_DOT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def cpuinfo_flags(text: str) -> set[str]:
    """The feature flags of /proc/cpuinfo text ("flags" on x86, "Features" on Arm)."""
    flags: set[str] = set()
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in ("flags", "features"):
            flags.update(value.split())
    return flags


def this_cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """This machine's flags; empty where there is no /proc/cpuinfo."""
    path = Path(cpuinfo)
    return cpuinfo_flags(path.read_text(errors="replace")) if path.is_file() else set()


def int8_pairs_saturate(flags: set[str], machine: str | None = None) -> bool:
    """True on x86 without an int8 dot product: ORT's uint8 x int8 kernels saturate
    there (module docstring). Arm and VNNI CPUs do not."""
    machine = (machine or platform.machine()).lower()
    x86 = machine in ("x86_64", "amd64", "i686", "i386")
    return x86 and not any(f in flags for f in INT8_DOT_FLAGS)
