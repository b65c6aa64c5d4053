"""What the CPU offers int8 kernels (runtime.cpu), and the one place it changes an
artifact: ONNX Runtime's dynamic int8 gets 7-bit weights on x86 without VNNI, where its
uint8 x int8 kernels would saturate 8-bit ones (measured: docs/cpus.md)."""

from __future__ import annotations

import pytest

from convbert_edge.quantize.recipes import Recipe
from convbert_edge.runtime import cpu

X86 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx2 fma\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd asimddp\nCPU part\t: 0xd0c\n"


def test_flags_are_read_from_x86_and_arm_cpuinfo(tmp_path):
    assert cpu.cpuinfo_flags(X86) == {"fpu", "sse", "avx2", "fma"}
    assert cpu.cpuinfo_flags(ARM) == {"fp", "asimd", "asimddp"}
    assert cpu.cpuinfo_flags("") == set()
    (tmp_path / "cpuinfo").write_text(X86)
    assert cpu.this_cpu_flags(tmp_path / "cpuinfo") == {"fpu", "sse", "avx2", "fma"}
    assert cpu.this_cpu_flags(tmp_path / "missing") == set()


def test_int8_pairs_saturate_only_on_x86_without_an_int8_dot_product():
    assert cpu.int8_pairs_saturate({"avx2", "fma"}, "x86_64")
    assert cpu.int8_pairs_saturate({"avx2", "avx512f", "avx512bw"}, "x86_64")  # Skylake-X
    assert not cpu.int8_pairs_saturate({"avx2", "avx512_vnni"}, "x86_64")
    assert not cpu.int8_pairs_saturate({"avx2", "avx_vnni"}, "x86_64")
    assert not cpu.int8_pairs_saturate({"asimd"}, "aarch64")


def test_recipes_take_8_or_7_bit_weights_only():
    assert Recipe("dynamic-int8").weight_bits == 8
    with pytest.raises(ValueError, match="weight_bits 6"):
        Recipe("dynamic-int8", weight_bits=6)
