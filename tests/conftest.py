"""Fixtures shared across test modules: a tiny checkpoint and a tiny verified artifact.

Session-scoped, so that every module that needs one reuses the same files (the artifact
takes seconds to export). Tests copy them before they break anything.
"""

from __future__ import annotations

import os

import pytest
from reliability_helpers import export_args, tiny_checkpoint


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``make test``), slow tests first, in their usual order.

    The workers take tests in collection order; alphabetically the longest ones (the fuzz
    and kill tests, the arm64 runs) come last, and one of them then ran alone at the end
    while the other worker sat idle. Started first, they overlap each other and the short
    tests fill the end. A plain ``pytest`` run keeps the file order.
    """
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def tiny_checkpoint_dir(tmp_path_factory):
    """A random 1-layer sentiment checkpoint (reliability_helpers.TINY), no vocab.txt."""
    return tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture(scope="session")
def tiny_onnx_artifact(tiny_checkpoint_dir, tmp_path_factory):
    """The tiny checkpoint exported to a verified fp32 ONNX artifact through the CLI."""
    from convbert_edge.export import main as export_main

    out = tmp_path_factory.mktemp("onnx") / "art"
    assert export_main(export_args(tiny_checkpoint_dir, out)) == 0
    return out


@pytest.fixture
def one_torch_thread():
    """torch on one thread: on tiny graphs per-op overhead dominates, and extra threads of a
    busy machine only slow them down."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
