"""What the arm64 environment is made of, as data: a Debian userland, a qemu-user binary and
the aarch64 wheels of each runtime. Every part hashes its own fields, so a change to one
rebuilds that part alone (a new ExecuTorch pin leaves the userland and LiteRT alone).

Measured on this machine (docs/arm64.md):
- Debian bookworm's qemu-user (7.2) segfaults inside LiteRT's interpreter creation; the
  qemu-user 10.0 of bookworm-backports works. Its .deb holds a static qemu-aarch64 that
  runs without installing anything or registering binfmt.
- The cortex-a76 CPU model has the dot-product instructions phones' int8 kernels use, and
  is 3-5x faster to emulate for ExecuTorch than qemu's default CPU model.
- The aarch64 torch on PyPI is the CUDA 13 build: libtorch_cpu.so links libcudart.so.13
  and libcupti.so.13, and torch._C (through libtorch_cuda.so) links cuDNN, cuBLAS, NCCL and
  the rest, so those wheels are installed (about 4 GB; nothing runs on a GPU; importing
  torch under emulation takes 1-2 minutes). Markers in torch's and executorch's metadata are
  evaluated by pip against the x86 host (pulling the whole CUDA stack and coremltools), so
  the ExecuTorch set is an explicit, pinned, --no-deps list of what its import needs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from convbert_edge.targets import Target


@dataclass(frozen=True)
class DebianUserland:
    """An arm64 Debian tree built by ``mmdebstrap --variant=extract`` (no arm64 code runs).

    Args:
        suite: the Debian release.
        packages: what to extract (python and the C++ runtime the wheels link).
        glibc: the suite's glibc version; pip may pick wheels for any manylinux up to it.
    """

    suite: str = "bookworm"
    packages: tuple[str, ...] = ("python3.11", "libstdc++6", "libgomp1")
    python: str = "3.11"
    glibc: tuple[int, int] = (2, 36)


@dataclass(frozen=True)
class DebFile:
    """One .deb in the Debian archive's pool, pinned by path and sha256, and the one file
    taken out of it."""

    pool_path: str
    sha256: str
    member: str

    @property
    def filename(self) -> str:
        return self.pool_path.rsplit("/", 1)[1]


@dataclass(frozen=True)
class WheelSet:
    """The aarch64 wheels one runtime needs, installed with pip --no-deps (see above)."""

    requirements: tuple[str, ...]

    def __post_init__(self):
        unpinned = [r for r in self.requirements if "==" not in r]
        if unpinned:
            raise ValueError(f"wheel requirements must be pinned with ==: {unpinned}")


QEMU_USER = DebFile(
    pool_path="pool/main/q/qemu/qemu-user_10.0.2+ds-2+deb13u1~bpo12+1_amd64.deb",
    sha256="10a2dec99f2b2d0b1097ff0375aea35b89322d6631fc96700511b02e05bf6fef",
    member="./usr/bin/qemu-aarch64",
)

# The host's pins (pyproject.toml), so that arm64 runs the same runtime versions as x86.
NUMPY = "numpy==2.4.6"

WHEELS: dict[Target, WheelSet] = {
    Target.TFLITE: WheelSet(
        (
            "ai-edge-litert==2.3.0",
            NUMPY,
            # ai-edge-litert's own dependencies, pinned as the host has them.
            "flatbuffers==25.12.19",
            "ml-dtypes==0.7.0",
            "protobuf==7.36.2",
            "tqdm==4.70.1",
            "typing-extensions==4.16.0",
            "backports.strenum==1.2.8",
        )
    ),
    Target.EXECUTORCH: WheelSet(
        (
            "executorch==1.5.1",
            "torch==2.13.0",
            "torchao==0.18.0",
            # The CUDA libraries torch's shared objects link (libtorch_python needs
            # libtorch_cuda, which needs these at load time; nothing runs on a GPU).
            "nvidia-cuda-runtime==13.0.96",
            "nvidia-cuda-cupti==13.0.85",
            "nvidia-cublas==13.1.1.3",
            "nvidia-cuda-nvrtc==13.0.88",
            "nvidia-cufft==12.0.0.61",
            "nvidia-nvjitlink==13.0.88",
            "nvidia-cufile==1.15.1.6",
            "nvidia-curand==10.4.0.35",
            "nvidia-cusparse==12.6.3.3",
            "nvidia-cudnn-cu13==9.20.0.48",
            "nvidia-cusparselt-cu13==0.8.1",
            "nvidia-nccl-cu13==2.29.7",
            "nvidia-nvshmem-cu13==3.4.5",
            NUMPY,
            "sympy==1.14.0",
            "mpmath==1.3.0",
            "networkx==3.6.1",
            "jinja2==3.1.6",
            "markupsafe==3.0.4",
            "fsspec==2026.9.0",
            "filelock==4.3.2",
            "typing-extensions==4.16.0",
            "ruamel.yaml==0.19.1",
            "ruamel.yaml.clib==0.2.15",
            "tabulate==0.10.0",
            "optree==0.20.0",
            "packaging==26.4",
            "pyyaml==6.0.4",
            "flatbuffers==25.12.19",
        )
    ),
}


@dataclass(frozen=True)
class Arm64Recipe:
    """The whole arm64 environment.

    Args:
        mirror: the Debian archive the userland and the qemu .deb come from.
        userland: the arm64 Debian tree.
        qemu: the qemu-user .deb and the emulator inside it.
        cpu: the CPU model qemu emulates (QEMU_CPU).
        wheels: the aarch64 wheels per target.

    Example:
        >>> recipe = Arm64Recipe()
        >>> recipe.part_hash("userland")[:12]   # names the cache directory of that part
    """

    mirror: str = "http://deb.debian.org/debian"
    userland: DebianUserland = DebianUserland()
    qemu: DebFile = QEMU_USER
    cpu: str = "cortex-a76"
    wheels: dict[Target, WheelSet] = field(default_factory=lambda: dict(WHEELS))

    def wheel_set(self, target: Target) -> WheelSet:
        if target not in self.wheels:
            valid = ", ".join(t.value for t in self.wheels)
            raise ValueError(f"no arm64 runtime for {target.value} artifacts (arm64 runs: {valid})")
        return self.wheels[target]

    def platforms(self) -> list[str]:
        """pip --platform tags for every manylinux the userland's glibc can load.

        pip does not widen an explicit --platform to older manylinux versions, and the
        wheels carry different ones (ai-edge-litert 2_27, torch 2_28, numpy 2_17).
        """
        major, minor = self.userland.glibc
        tags = [f"manylinux_{major}_{m}_aarch64" for m in range(minor, 16, -1)]
        return [*tags, "manylinux2014_aarch64", "linux_aarch64", "any"]

    def part(self, name: str) -> dict:
        """The fields one cached part depends on, as JSON-ready data."""
        parts = {
            "userland": {"mirror": self.mirror, **asdict(self.userland)},
            "qemu": {"mirror": self.mirror, **asdict(self.qemu)},
        }
        for target, wheels in self.wheels.items():
            parts[f"wheels-{target.value}"] = {
                "python": self.userland.python,
                "platforms": self.platforms(),
                "requirements": list(wheels.requirements),
            }
        if name not in parts:
            raise ValueError(f"unknown part {name!r}; the recipe has {sorted(parts)}")
        return parts[name]

    def part_hash(self, name: str) -> str:
        text = json.dumps(self.part(name), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()
