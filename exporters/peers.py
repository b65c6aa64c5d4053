"""The peer paths a user has today, built from transformers' own ConvBERT model.

Each peer starts from transformers' model loaded from the SAME checkpoint as ours, so its
accuracy is comparable example by example, and is written as an ordinary artifact
directory (model file + manifest.json + tokenizer files) that runtime.session.load opens:

- ``onnx-dynamic-int8``: torch.onnx export + ONNX Runtime dynamic int8 on MatMul, per
  tensor, as optimum's ``onnxruntime quantize`` does it.
- ``litert-torch-int8``: litert-torch's PT2E static int8 to TFLite (needs litert-torch;
  see PEERS_INSTALL).
- ``executorch-fp32`` / ``executorch-int8``: torch.export -> (PT2E int8 with the XNNPACK
  quantizer, set up as quantize.pt2e_quantizer does for ours) -> XNNPACK lowering, the
  same chain our ExecuTorch exporter runs.

    build_peer("onnx-dynamic-int8", model_dir, "sequence-classification", out, example, calib)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convbert_edge.errors import ExportError
from convbert_edge.runtime.litert import litert_runner
from convbert_edge.tasks import HF_ARCHITECTURES, INPUT_NAMES, OUTPUT_NAMES, Task

PEERS_INSTALL = "pip install 'litert-torch==0.10.0' (or the project's [peers] extra)"


class PeerUnavailable(ExportError):
    """A peer path that cannot be built here (a missing package); the message says why."""


def transformers_model(model_dir: str | Path, task: Task | str):
    """transformers' ConvBERT for ``task`` from a checkpoint directory, in eval mode, fp32."""
    import torch

    try:
        import transformers
    except ImportError:
        raise PeerUnavailable(
            "the transformers baseline needs transformers: pip install 'transformers==4.57.6'"
        ) from None
    cls = getattr(transformers, HF_ARCHITECTURES[Task.parse(task)])
    return cls.from_pretrained(str(model_dir), dtype=torch.float32).eval()


def _wrapper(model, task: Task):
    """transformers' model behind our positional signature, returning our output dict."""
    import torch

    names = OUTPUT_NAMES[task]

    class ForExport(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return {name: out[name] for name in names}

    return ForExport().eval()


@dataclass
class PeerBuild:
    """What a peer builder gets: the wrapped model, an example call and calibration calls."""

    model: object  # torch.nn.Module with forward(input_ids, attention_mask, token_type_ids)
    task: Task
    example: dict[str, np.ndarray]
    calibration: list[dict[str, np.ndarray]]

    def torch_args(self, call: dict[str, np.ndarray]) -> tuple:
        import torch

        return tuple(torch.from_numpy(np.asarray(call[n], np.int32)) for n in INPUT_NAMES)


@dataclass
class PeerModel:
    target: str
    quantization: str
    model: bytes
    recipe: dict
    notes: list[dict[str, str]]


def _onnx_dynamic_int8(b: PeerBuild) -> PeerModel:
    from convbert_edge.quantize.recipes import recipe_for

    from .onnx import export_onnx

    recipe = recipe_for("dynamic-int8", granularity="per-tensor")
    data = export_onnx(b.model, b.torch_args(b.example), OUTPUT_NAMES[b.task], recipe)
    note = {"op": "MatMul/Gemm", "reason": "ONNX Runtime quantize_dynamic, int8 weights per tensor"}
    return PeerModel("onnx", "dynamic-int8", data, recipe.as_dict(), [note])


def _litert_torch_int8(b: PeerBuild) -> PeerModel:
    import torch

    try:
        import litert_torch
        from litert_torch.quantize.pt2e_quantizer import (
            PT2EQuantizer,
            get_symmetric_quantization_config,
        )
        from litert_torch.quantize.quant_config import QuantConfig
    except ImportError as err:
        raise PeerUnavailable(
            f"litert-torch is not importable here ({err}): {PEERS_INSTALL}"
        ) from None
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from convbert_edge.quantize.pt2e_config import pt2e_quantization_config
    from convbert_edge.quantize.recipes import recipe_for

    # Min/max activation ranges as in our recipes: litert-torch's default histogram
    # observer takes about 10 s a call on this model; latency does not depend on it.
    ours = recipe_for("int8", granularity="per-channel", observer="minmax")
    config = pt2e_quantization_config(ours, base=get_symmetric_quantization_config)
    quantizer = PT2EQuantizer().set_global(config)
    kwargs = dict(zip(INPUT_NAMES, b.torch_args(b.example), strict=True))
    graph = torch.export.export(b.model, (), kwargs).module()
    prepared = prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for call in b.calibration:
            prepared(*b.torch_args(call))
    converted = convert_pt2e(prepared, fold_quantize=False)
    try:
        edge = litert_torch.convert(
            converted, (), sample_kwargs=kwargs, quant_config=QuantConfig(pt2e_quantizer=quantizer)
        )
    except Exception as err:  # the converter raises many types
        raise ExportError(f"litert-torch conversion failed: {str(err).splitlines()[0]}") from None
    recipe = {
        "tool": "litert-torch PT2E",
        "activations": "static",
        "observer": "minmax",
        "granularity": "per-channel",
        "calibration_samples": len(b.calibration),
    }
    return PeerModel("tflite", "int8", edge.model_content(), recipe, [])


def _executorch(quantized: bool) -> Callable[[PeerBuild], PeerModel]:
    def build(b: PeerBuild) -> PeerModel:
        from convbert_edge.quantize.recipes import recipe_for

        from .executorch import linear_report, lower_to_pte, quantize_pt2e

        recipe = (
            recipe_for("int8", calibration_samples=max(len(b.calibration), 1))
            if quantized
            else recipe_for("fp32")
        )
        model = b.model
        args = b.torch_args(b.example)
        if quantized:
            model = quantize_pt2e(model, args, recipe, [b.torch_args(c) for c in b.calibration])
        notes = []
        if quantized:
            notes.append({"op": "linear", "reason": f"{dict(linear_report(model))}"})
        result = lower_to_pte(model, args)
        if result.undelegated:
            notes.append({"op": "outside XNNPACK", "reason": f"{dict(result.undelegated)}"})
        return PeerModel("executorch", recipe.quantization, result.program, recipe.as_dict(), notes)

    return build


PEERS: dict[str, Callable[[PeerBuild], PeerModel]] = {
    "onnx-dynamic-int8": _onnx_dynamic_int8,
    "litert-torch-int8": _litert_torch_int8,
    "executorch-fp32": _executorch(quantized=False),
    "executorch-int8": _executorch(quantized=True),
}


def build_peer(
    name: str,
    model_dir: str | Path,
    task: Task | str,
    out: str | Path,
    example: dict[str, np.ndarray],
    calibration: list[dict[str, np.ndarray]] = (),
    log: Callable[[str], None] = print,
) -> Path:
    """Build peer ``name`` from transformers' model of ``model_dir`` into artifact ``out``."""
    if name not in PEERS:
        raise ExportError(f"unknown peer {name!r}; valid: {', '.join(PEERS)}")
    task = Task.parse(task)
    model = _wrapper(transformers_model(model_dir, task), task)
    peer = PEERS[name](PeerBuild(model, task, example, list(calibration)))
    log(f"      {name}: {len(peer.model) / 1e6:.1f} MB")
    return _write_artifact(Path(out), Path(model_dir), task, peer, model, example)


def _write_artifact(out: Path, model_dir: Path, task: Task, peer: PeerModel, model, example):
    import torch

    from convbert_edge.io_utils import atomic_write_bytes, atomic_write_text
    from convbert_edge.runtime.manifest import MANIFEST_NAME, Manifest, TensorSpec, sha256_file
    from convbert_edge.targets import MODEL_FILES, Target
    from convbert_edge.tokenizer import checkpoint_tokenizer

    from .artifact import artifact_directory

    args = PeerBuild(model, task, example, []).torch_args(example)
    with torch.no_grad():
        reference = {k: v.numpy() for k, v in model(*args).items()}
    target = Target.parse(peer.target)
    with artifact_directory(out) as tmp:
        model_file = MODEL_FILES[target]
        atomic_write_bytes(tmp / model_file, peer.model)
        checkpoint_tokenizer(model_dir).save_pretrained(tmp)
        quant = _tflite_output_quant(tmp / model_file) if target is Target.TFLITE else {}
        manifest = Manifest(
            task=task.value,
            target=target.value,
            quantization=peer.quantization,
            model_file=model_file,
            model_sha256=sha256_file(tmp / model_file),
            seq_len=int(example["input_ids"].shape[-1]),
            batch=int(example["input_ids"].shape[0]),
            inputs=[TensorSpec(n, "int32", tuple(example[n].shape)) for n in INPUT_NAMES],
            outputs=[_output_spec(n, r.shape[1:], quant) for n, r in reference.items()],
            recipe=peer.recipe,
            float_ops=peer.notes,
            source={
                "checkpoint": str(model_dir),
                "model": "transformers " + HF_ARCHITECTURES[task],
            },
            tools=_versions(("torch", "transformers", "onnxruntime", "executorch", "litert-torch")),
        )
        atomic_write_text(tmp / MANIFEST_NAME, manifest.to_json())
    return out


def _output_spec(name: str, shape, quant: dict):
    from convbert_edge.runtime.manifest import TensorSpec

    dtype, scale, zero = quant.get(name, ("float32", None, None))
    return TensorSpec(name, dtype, tuple(int(x) for x in shape), scale, zero)


def _versions(packages: tuple[str, ...]) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for p in packages:
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = "not installed"
    return out


def _tflite_output_quant(path: Path) -> dict[str, tuple[str, float | None, int | None]]:
    runner = litert_runner(path)
    out = {}
    for name, d in runner.get_output_details().items():
        if np.issubdtype(d["dtype"], np.integer):
            scale, zero = d["quantization"]
            out[name] = (np.dtype(d["dtype"]).name, float(scale), int(zero))
    return out
