"""Property tests of manifest.json and golden.npz parsing: whatever JSON or arrays an
artifact holds, reading it gives a Manifest / GoldenBundle or an ArtifactError, never any
other exception (docs/reliability.md). The slow tier runs many more cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convbert_edge.errors import ArtifactError
from convbert_edge.runtime.golden import GoldenBundle
from convbert_edge.runtime.manifest import Manifest

VALID = {
    "task": "sequence-classification", "target": "tflite", "quantization": "int8",
    "model_file": "model.tflite", "model_sha256": "a" * 64, "golden_sha256": "b" * 64,
    "seq_len": 16, "batch": 1,
    "inputs": [{"name": n, "dtype": "int32", "shape": [1, 16]}
               for n in ("input_ids", "attention_mask", "token_type_ids")],
    "outputs": [{"name": "logits", "dtype": "float32", "shape": [1, 2]}],
    "labels": ["neg", "pos"], "recipe": {}, "float_ops": [], "source": {}, "tools": {},
    "vocab_size": 30522, "type_vocab_size": 2, "format_version": 2,
}  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def _read(tmp_path, data) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    try:
        Manifest.read(tmp_path)
    except ArtifactError:
        pass


def test_the_valid_manifest_reads():
    assert Manifest._from_data(VALID).vocab_size == 30522


def _manifest_property(examples: int):
    @settings(max_examples=examples, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(field=st.sampled_from(sorted(VALID)), value=json_values)
    def one_field_replaced(tmp_path, field, value):
        _read(tmp_path, {**VALID, field: value})

    @settings(max_examples=examples, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(data=json_values)
    def anything(tmp_path, data):
        _read(tmp_path, data)

    return one_field_replaced, anything


_fast = _manifest_property(50)
_slow = _manifest_property(2500)


def test_a_manifest_with_one_field_replaced_reads_or_is_refused(tmp_path):
    _fast[0](tmp_path)


def test_any_json_reads_or_is_refused(tmp_path):
    _fast[1](tmp_path)


@pytest.mark.slow
def test_many_manifests_read_or_are_refused(tmp_path):
    _slow[0](tmp_path)
    _slow[1](tmp_path)


arrays = st.one_of(
    st.builds(np.asarray, st.floats() | st.integers(-(2**31), 2**31 - 1) | st.text(max_size=3)),
    st.builds(
        lambda shape, v: np.full(shape, v),
        st.lists(st.integers(0, 3), max_size=3),
        st.floats(width=32) | st.integers(-5, 5),
    ),  # fmt: skip
)
keys = st.sampled_from([
    "input/input_ids", "input/attention_mask", "output/logits", "tolerance/min_cosine",
    "tolerance/max_abs", "tolerance/bogus", "texts", "other",
])  # fmt: skip


def _golden_property(examples: int):
    @settings(max_examples=examples, deadline=None)
    @given(content=st.dictionaries(keys, arrays, max_size=6))
    def bundle(content):
        try:
            GoldenBundle._from_arrays(content, "golden.npz")
        except ArtifactError:
            pass

    return bundle


def test_any_golden_arrays_read_or_are_refused():
    _golden_property(100)()


@pytest.mark.slow
def test_many_golden_bundles_read_or_are_refused():
    _golden_property(3000)()
