"""Reading and writing Hugging Face ConvBERT checkpoints as plain numpy tensors.

Both model stacks load through here: ``load_checkpoint`` finds the directory (or hub
id), reads config.json and the weights (safetensors first; pytorch_model.bin only with
``torch.load(weights_only=True)``), and ``expected_tensors`` says, declaratively, which
tensor names and shapes a model of a given config and task must find. ``match_tensors``
is the one strict check: a missing, unexpected or mis-shaped tensor is an error naming it.
``plan_load`` is both stacks' decision about the head: which tensors ``new_head`` leaves
freshly initialised, and the error that asks for it when a checkpoint has no head.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from convbert_edge.config import ConvBertConfig
from convbert_edge.errors import CheckpointError, ConfigError
from convbert_edge.io_utils import atomic_write
from convbert_edge.tasks import Task

SAFETENSORS_NAME = "model.safetensors"
SAFETENSORS_INDEX_NAME = "model.safetensors.index.json"
PYTORCH_NAME = "pytorch_model.bin"
BASE_PREFIX = "convbert."

# Per-layer tensors of the encoder; "{}" is the layer index.
_LAYER = "encoder.layer.{}."

# The head tensors each task adds on top of the base model (names without the base prefix).
# Tied weights are written once by transformers: the MLM output projection reuses the
# word embeddings unless config.json sets tie_word_embeddings to false.
TIED_WEIGHTS = {"generator_lm_head.weight": BASE_PREFIX + "embeddings.word_embeddings.weight"}


def base_tensor_shapes(c: ConvBertConfig) -> dict[str, tuple[int, ...]]:
    """HF names (no prefix) and shapes of ConvBertModel's tensors."""
    e, h, a, k, g = (
        c.embedding_size,
        c.hidden_size,
        c.all_head_size,
        c.conv_kernel_size,
        c.num_groups,
    )
    i = c.intermediate_size
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word_embeddings.weight": (c.vocab_size, e),
        "embeddings.position_embeddings.weight": (c.max_position_embeddings, e),
        "embeddings.token_type_embeddings.weight": (c.type_vocab_size, e),
        "embeddings.LayerNorm.weight": (e,),
        "embeddings.LayerNorm.bias": (e,),
    }
    if e != h:
        shapes["embeddings_project.weight"] = (h, e)
        shapes["embeddings_project.bias"] = (h,)
    ffn_in = (g, h // g, i // g) if g > 1 else (i, h)
    ffn_out = (g, i // g, h // g) if g > 1 else (h, i)
    per_layer = {
        "attention.self.query.weight": (a, h),
        "attention.self.query.bias": (a,),
        "attention.self.key.weight": (a, h),
        "attention.self.key.bias": (a,),
        "attention.self.value.weight": (a, h),
        "attention.self.value.bias": (a,),
        "attention.self.key_conv_attn_layer.bias": (a, 1),
        "attention.self.key_conv_attn_layer.depthwise.weight": (h, 1, k),
        "attention.self.key_conv_attn_layer.pointwise.weight": (a, h, 1),
        "attention.self.conv_kernel_layer.weight": (c.attention_heads * k, a),
        "attention.self.conv_kernel_layer.bias": (c.attention_heads * k,),
        "attention.self.conv_out_layer.weight": (a, h),
        "attention.self.conv_out_layer.bias": (a,),
        "attention.output.dense.weight": (h, h),
        "attention.output.dense.bias": (h,),
        "attention.output.LayerNorm.weight": (h,),
        "attention.output.LayerNorm.bias": (h,),
        "intermediate.dense.weight": ffn_in,
        "intermediate.dense.bias": (i,),
        "output.dense.weight": ffn_out,
        "output.dense.bias": (h,),
        "output.LayerNorm.weight": (h,),
        "output.LayerNorm.bias": (h,),
    }
    for layer in range(c.num_hidden_layers):
        for name, shape in per_layer.items():
            shapes[_LAYER.format(layer) + name] = shape
    return shapes


def head_tensor_shapes(c: ConvBertConfig, task: Task) -> dict[str, tuple[int, ...]]:
    """HF names and shapes of the tensors a task's head adds."""
    h, n = c.hidden_size, c.num_labels
    heads: dict[Task, dict[str, tuple[int, ...]]] = {
        Task.BASE: {},
        Task.MASKED_LM: {
            "generator_predictions.dense.weight": (c.embedding_size, h),
            "generator_predictions.dense.bias": (c.embedding_size,),
            "generator_predictions.LayerNorm.weight": (c.embedding_size,),
            "generator_predictions.LayerNorm.bias": (c.embedding_size,),
            "generator_lm_head.weight": (c.vocab_size, c.embedding_size),
            "generator_lm_head.bias": (c.vocab_size,),
        },
        Task.SEQUENCE_CLASSIFICATION: {
            "classifier.dense.weight": (h, h),
            "classifier.dense.bias": (h,),
            "classifier.out_proj.weight": (n, h),
            "classifier.out_proj.bias": (n,),
        },
        Task.MULTIPLE_CHOICE: {"classifier.weight": (1, h), "classifier.bias": (1,)},
        Task.TOKEN_CLASSIFICATION: {"classifier.weight": (n, h), "classifier.bias": (n,)},
        Task.QUESTION_ANSWERING: {"qa_outputs.weight": (2, h), "qa_outputs.bias": (2,)},
    }
    return heads[task]


def expected_tensors(c: ConvBertConfig, task: Task) -> dict[str, tuple[int, ...]]:
    """Every tensor name (as transformers' class for ``task`` names it) and its shape."""
    task = Task.parse(task)
    base = base_tensor_shapes(c)
    if task is Task.BASE:
        return base
    return {**{BASE_PREFIX + k: v for k, v in base.items()}, **head_tensor_shapes(c, task)}


def ties_word_embeddings(c: ConvBertConfig) -> bool:
    return bool(c.extra.get("tie_word_embeddings", True))


def normalize_names(tensors: dict[str, np.ndarray], c: ConvBertConfig, task: Task) -> dict:
    """Map a checkpoint's names onto ``expected_tensors(c, task)``'s naming.

    A checkpoint saved from ConvBertModel has no ``convbert.`` prefix, one saved from a
    head model has it; either loads into either. Tied weights that were not written are
    filled in from the tensor they share.
    """
    task = Task.parse(task)
    has_prefix = any(k.startswith(BASE_PREFIX) for k in tensors)
    base_names = base_tensor_shapes(c)
    out: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        if task is Task.BASE:
            if not has_prefix:
                out[name] = value
            elif name.startswith(BASE_PREFIX):
                out[name[len(BASE_PREFIX) :]] = value
            # else: a head tensor; ConvBertModel drops heads as transformers does.
        elif not has_prefix and name in base_names:
            out[BASE_PREFIX + name] = value
        else:
            out[name] = value
    if task is Task.MASKED_LM and ties_word_embeddings(c):
        for tied, source in TIED_WEIGHTS.items():
            if tied not in out and source in out:
                out[tied] = out[source]
    return out


def match_tensors(
    found: dict[str, np.ndarray],
    expected: dict[str, tuple[int, ...]],
    source: str,
    ignore_unexpected: tuple[str, ...] = (),
) -> None:
    """Raise one CheckpointError listing every missing, unexpected and mis-shaped tensor."""
    missing = [k for k in expected if k not in found]
    unexpected = [
        k
        for k in found
        if k not in expected and not any(k.startswith(p) for p in ignore_unexpected)
    ]
    misshaped = [
        f"{k}: checkpoint {tuple(found[k].shape)}, model {expected[k]}"
        for k in expected
        if k in found and tuple(found[k].shape) != tuple(expected[k])
    ]
    problems = []
    if missing:
        problems.append(
            f"missing tensors: {', '.join(missing[:20])}" + (" ..." if len(missing) > 20 else "")
        )
    if unexpected:
        problems.append(
            f"unexpected tensors: {', '.join(unexpected[:20])}"
            + (" ..." if len(unexpected) > 20 else "")
        )
    if misshaped:
        problems.append("mis-shaped tensors: " + "; ".join(misshaped[:20]))
    if problems:
        raise CheckpointError(
            f"checkpoint {source} does not fit the model: "
            + " | ".join(problems)
            + ". Check that config.json belongs to these weights and that the task is right."
        )


@dataclass(frozen=True)
class LoadPlan:
    """What a model takes from a checkpoint, decided once for both stacks' loaders.

    Args:
        tensors: the checkpoint's tensors under ``expected_tensors``' names.
        expected: the names (and shapes) to copy into the model; all are in ``tensors``.
        fresh: head tensors the model keeps as initialised (``new_head``); else empty.
    """

    tensors: dict[str, np.ndarray]
    expected: dict[str, tuple[int, ...]]
    fresh: frozenset[str]


def plan_load(
    found: dict[str, np.ndarray],
    c: ConvBertConfig,
    task: Task,
    source: str,
    *,
    new_head: bool,
    model_name: str,
) -> LoadPlan:
    """Check a checkpoint's tensors against a ``model_name`` for ``task``, strictly.

    With ``new_head`` the task's head is left out (any head tensors in the checkpoint are
    ignored) and keeps its fresh initialisation. Without it, a checkpoint that lacks the
    head (a public pretrained one, say) gets an error that says to pass new_head=True.
    """
    task = Task.parse(task)
    tensors = normalize_names(found, c, task)
    expected = expected_tensors(c, task)
    head = set(head_tensor_shapes(c, task))
    fresh = frozenset(head if new_head else ())
    if fresh:
        tensors = {k: v for k, v in tensors.items() if k.startswith(BASE_PREFIX)}
        expected = {k: v for k, v in expected.items() if k not in fresh}
    try:
        match_tensors(tensors, expected, source)
    except CheckpointError as err:
        # Tied tensors are filled in from the base, so they do not show a head is there.
        if head and not new_head and not (head - set(TIED_WEIGHTS)) & set(tensors):
            raise CheckpointError(
                f"{err} The checkpoint has no {task.value} head: pass new_head=True to "
                f"{model_name}.from_pretrained to start one, initialised as transformers "
                "does for fine-tuning"
            ) from None
        raise
    return LoadPlan(tensors, expected, fresh)


# --------------------------------------------------------------------------- files
@dataclass
class Checkpoint:
    """A checkpoint read into memory: its config, its tensors and where they came from."""

    config: ConvBertConfig
    tensors: dict[str, np.ndarray]
    source: str


def resolve_model_dir(name_or_dir: str | os.PathLike) -> Path:
    """A local checkpoint directory, or a hub id downloaded where there is a network."""
    path = Path(name_or_dir).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise CheckpointError(f"{path} is a file; pass the checkpoint directory that holds it")
    name = str(name_or_dir)
    looks_like_hub_id = name.count("/") == 1 and not name.startswith((".", "/", "~"))
    if not looks_like_hub_id:
        raise CheckpointError(
            f"no checkpoint directory at {path}: pass a directory holding config.json and "
            "model.safetensors (or pytorch_model.bin), or a hub id such as YituTech/conv-bert-small"
        )
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise CheckpointError(
            f"{name!r} is not a local directory and huggingface_hub is not installed to "
            "download it: `pip install huggingface_hub`, or pass a local checkpoint directory"
        ) from None
    try:
        return Path(
            snapshot_download(
                name, allow_patterns=["*.json", "*.txt", "*.safetensors", "pytorch_model.bin"]
            )
        )
    except Exception as err:  # the hub client raises many types; all mean "not reachable"
        raise CheckpointError(
            f"could not download {name!r} from the Hugging Face hub ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else 'no detail'}). Without a network, "
            "download the checkpoint elsewhere and pass its local directory"
        ) from None


def read_tensors(directory: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read every tensor of a checkpoint directory as float32 / integer numpy arrays."""
    directory = Path(directory)
    single = directory / SAFETENSORS_NAME
    index = directory / SAFETENSORS_INDEX_NAME
    if single.is_file():
        return _read_safetensors(single)
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise CheckpointError(f"{index} is not a valid safetensors index: {err}") from None
        tensors: dict[str, np.ndarray] = {}
        for shard in shards:
            tensors.update(_read_safetensors(directory / shard))
        return tensors
    if (directory / PYTORCH_NAME).is_file():
        return _read_torch_bin(directory / PYTORCH_NAME)
    raise CheckpointError(
        f"no weights in {directory}: expected {SAFETENSORS_NAME}, {SAFETENSORS_INDEX_NAME} "
        f"or {PYTORCH_NAME}"
    )


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    if not path.is_file():
        raise CheckpointError(f"missing weights file {path}")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(
            f"{path} is not a readable safetensors file ({err}); it may be truncated or "
            "corrupt: download or save it again"
        ) from None
    except Exception as err:
        if "bfloat16" in str(err) or "dtype" in str(err).lower():
            return _read_safetensors_torch(path)
        raise CheckpointError(f"{path} could not be read: {err}") from None
    return {k: _as_float32(v) for k, v in tensors.items()}


def _read_safetensors_torch(path: Path) -> dict[str, np.ndarray]:
    # numpy has no bfloat16: such files are read through torch and widened.
    from safetensors.torch import load_file

    return {
        k: v.float().numpy() if v.is_floating_point() else v.numpy()
        for k, v in load_file(str(path)).items()
    }


def _read_torch_bin(path: Path) -> dict[str, np.ndarray]:
    import pickle

    import torch

    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"{path} is not plain weights: it holds Python objects that weights_only loading "
            f"refuses to unpickle ({str(err).splitlines()[0]}). Convert it to safetensors from "
            "a trusted environment"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise CheckpointError(
            f"{path} could not be read ({type(err).__name__}: {str(err).splitlines()[0]}); it "
            "may be truncated or corrupt"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} does not hold a flat name -> tensor state dict")
    return {
        k: _as_float32(v.float().numpy() if v.is_floating_point() else v.numpy())
        for k, v in state.items()
    }


def _as_float32(array: np.ndarray) -> np.ndarray:
    return array.astype(np.float32) if np.issubdtype(array.dtype, np.floating) else array


def load_checkpoint(name_or_dir: str | os.PathLike) -> Checkpoint:
    """Config and tensors of a checkpoint directory or hub id."""
    directory = resolve_model_dir(name_or_dir)
    try:
        config = ConvBertConfig.from_pretrained(directory)
    except ConfigError as err:
        raise CheckpointError(str(err)) from None
    return Checkpoint(config=config, tensors=read_tensors(directory), source=str(directory))


def save_tensors(tensors: dict[str, np.ndarray], directory: str | os.PathLike) -> Path:
    """Write ``model.safetensors`` (atomically) in the layout transformers reads."""
    from safetensors.numpy import save_file

    contiguous = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    return atomic_write(
        Path(directory) / SAFETENSORS_NAME,
        lambda tmp: save_file(contiguous, str(tmp), metadata={"format": "pt"}),
    )
