"""runtime.litert_profile: LiteRT's own op profiler, driven through its C API."""

from __future__ import annotations

import pytest
from tiny_artifacts import make_tiny_artifact

from convbert_edge.errors import ArtifactError
from convbert_edge.runtime.litert_profile import OpProfile, delegate_partitions, profile_ops


def test_profile_counts_the_ops_of_a_real_model(tmp_path):
    model = make_tiny_artifact(tmp_path / "art", "tflite") / "model.tflite"
    profile = profile_ops(model, num_threads=1, runs=3)
    assert profile.runs == 3
    outside = profile.outside_delegates()
    # The tiny model gathers twice (outside XNNPACK: GATHER has no XNNPACK kernel).
    assert outside["GATHER"][0] == 2, outside
    assert all(count >= 1 and ms >= 0 for count, ms in profile.by_node_type().values())
    assert delegate_partitions(model, 1) >= 1


def test_a_summary_without_the_node_type_table_is_an_error():
    with pytest.raises(ArtifactError, match="by node type"):
        OpProfile(text="nothing profiled", runs=1).by_node_type()


def test_a_broken_model_is_an_artifact_error():
    with pytest.raises(ArtifactError, match="LiteRT profiling"):
        profile_ops(b"not a flatbuffer" * 4)
