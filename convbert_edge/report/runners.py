"""How to open each kind of variant for running: an artifact directory, or an eager model.

A ``RunnerSpec`` is plain data (it pickles), so the same variant can be opened in this
process for latency and accuracy, or in a child process for its own peak memory.

    run = open_runner(RunnerSpec("artifact", "artifacts/tflite-int8"), threads=2)
    outputs = run({"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Run = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


@dataclass(frozen=True)
class RunnerSpec:
    """What to open: ``kind`` is a key of OPENERS.

    Args:
        kind: "artifact" (any directory with manifest.json: .tflite, .pte or .onnx),
            "eager-ours" (our PyTorch stack) or "eager-transformers" (transformers' model).
        path: the artifact directory, or the checkpoint directory for eager models.
        task: the head, for eager models.
    """

    kind: str
    path: str
    task: str = "sequence-classification"


def _open_artifact(spec: RunnerSpec, threads: int) -> Run:
    from convbert_edge.runtime.session import load

    # The report built (and, for ours, verified) every artifact it times, so the crash
    # guard's child process would only add seconds to each worker's start.
    return load(spec.path, threads=threads, isolate=False).run


def _open_eager(model_factory: Callable[[str, str], object]):
    def open_(spec: RunnerSpec, threads: int) -> Run:
        import torch

        from convbert_edge.evaluation import eager_runner

        torch.set_num_threads(threads)
        return eager_runner(model_factory(spec.path, spec.task))

    return open_


def _ours(path: str, task: str):
    from convbert_edge.torch_stack import model_class

    return model_class(task).from_pretrained(path)


def _transformers(path: str, task: str):
    from convbert_edge.exporters.peers import transformers_model

    return transformers_model(path, task)


OPENERS: dict[str, Callable[[RunnerSpec, int], Run]] = {
    "artifact": _open_artifact,
    "eager-ours": _open_eager(_ours),
    "eager-transformers": _open_eager(_transformers),
}

# Modules each kind needs before its model is loaded: imported first in a memory child,
# so that the child's baseline holds the runtime and its peak above it is the model's.
RUNTIME_MODULES: dict[str, tuple[str, ...]] = {
    "tflite": ("convbert_edge.runtime.session", "ai_edge_litert.interpreter"),
    "executorch": ("convbert_edge.runtime.session", "torch", "executorch.runtime"),
    "onnx": ("convbert_edge.runtime.session", "onnxruntime"),
    "eager-ours": ("torch", "convbert_edge.torch_stack"),
    "eager-transformers": ("torch", "transformers"),
}


def runtime_modules(spec: RunnerSpec) -> tuple[str, ...]:
    """The modules ``spec`` needs, by artifact target or eager kind."""
    if spec.kind == "artifact":
        from convbert_edge.runtime.manifest import Manifest

        return RUNTIME_MODULES[Manifest.read(spec.path).target]
    return RUNTIME_MODULES.get(spec.kind, ())


def open_runner(spec: RunnerSpec, threads: int) -> Run:
    """Open ``spec`` with ``threads`` CPU threads; returns its run(call) -> outputs."""
    if spec.kind not in OPENERS:
        raise ValueError(f"unknown runner kind {spec.kind!r}; valid: {', '.join(OPENERS)}")
    return OPENERS[spec.kind](spec, threads)
