"""What machine the numbers were measured on: CPU model, cores, SIMD flags, software.

describe_machine()                    # reads /proc/cpuinfo where there is one
parse_cpuinfo(text)                   # the same from a given text (tests)
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path

from convbert_edge.runtime.cpu import cpuinfo_flags

# The flags that decide int8 and fp32 GEMM speed on x86 and Arm.
FLAGS_OF_INTEREST = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_int8",
    "asimd",
    "asimddp",
    "i8mm",
    "sve",
)


@dataclass
class MachineInfo:
    """The CPU and software a report was measured with.

    Args:
        cpu_model: "model name" (x86) or the implementer/part (Arm) line of /proc/cpuinfo.
        logical_cpus: processors listed in /proc/cpuinfo (or os.cpu_count()).
        usable_cpus: CPUs this process may run on (its affinity mask).
        flags: the FLAGS_OF_INTEREST the CPU reports.
        load_average: 1-minute load when measured; other jobs inflate every latency.
    """

    cpu_model: str
    logical_cpus: int
    usable_cpus: int
    flags: list[str] = field(default_factory=list)
    machine: str = ""
    system: str = ""
    python: str = ""
    load_average: float | None = None
    packages: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        flags = ", ".join(self.flags) or "none of " + ", ".join(FLAGS_OF_INTEREST[:5])
        load = f", load average {self.load_average:.1f}" if self.load_average is not None else ""
        return (
            f"{self.cpu_model}; {self.usable_cpus} usable of {self.logical_cpus} logical CPUs; "
            f"{self.machine} {self.system}; flags: {flags}{load}"
        )


def parse_cpuinfo(text: str) -> tuple[str, int, list[str]]:
    """(cpu model, logical processor count, flags of interest) from /proc/cpuinfo text."""
    model, processors, flags = "", 0, cpuinfo_flags(text)
    arm_part = ""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "processor":
            processors += 1
        elif key == "model name" and not model:
            model = value
        elif key == "cpu part" and not arm_part:
            arm_part = value
    if not model and arm_part:
        model = f"Arm CPU part {arm_part}"
    return model or "unknown CPU", processors, [f for f in FLAGS_OF_INTEREST if f in flags]


def describe_machine(
    cpuinfo: str | Path = "/proc/cpuinfo", packages: tuple[str, ...] = ()
) -> MachineInfo:
    """The machine this process runs on; versions of ``packages`` where installed."""
    from importlib.metadata import PackageNotFoundError, version

    path = Path(cpuinfo)
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    model, processors, flags = parse_cpuinfo(text)
    if model == "unknown CPU" and platform.processor():
        model = platform.processor()
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = None
    versions = {}
    for name in packages:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return MachineInfo(
        cpu_model=model,
        logical_cpus=processors or os.cpu_count() or 1,
        usable_cpus=usable,
        flags=flags,
        machine=platform.machine(),
        system=f"{platform.system()} {platform.release()}",
        python=platform.python_version(),
        load_average=load,
        packages=versions,
    )
