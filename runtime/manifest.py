"""manifest.json: what an artifact directory holds and how to feed it."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from convbert_edge.errors import ArtifactError
from convbert_edge.targets import MODEL_FILES, Quantization, Target
from convbert_edge.tasks import Task

MANIFEST_NAME = "manifest.json"
GOLDEN_NAME = "golden.npz"
FORMAT_VERSION = 2  # 2: golden_sha256, and tolerances without NaN placeholders


INPUT_DTYPES = ("int32", "int64")
OUTPUT_DTYPES = ("float32", "float16", "int8", "uint8", "int16")
_MAX_DIM = 1 << 20  # far above any static shape this toolkit exports


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output: name, numpy dtype name, static shape, and, for a
    quantized tensor, its scale and zero point (real = scale * (q - zero_point))."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    scale: float | None = None
    zero_point: int | None = None

    @classmethod
    def from_dict(cls, d: Any, where: str, dtypes: tuple[str, ...]) -> TensorSpec:
        """Read and check one entry of manifest.json's inputs or outputs; ``where`` names it
        in errors (``ValueError`` with the field, the value and what is allowed)."""
        if not isinstance(d, dict):
            raise ValueError(f"{where} must be an object, got {d!r}")
        name, dtype, shape = d.get("name"), d.get("dtype"), d.get("shape")
        scale, zero = d.get("scale"), d.get("zero_point")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}.name must be a non-empty string, got {name!r}")
        if dtype not in dtypes:
            raise ValueError(f"{where}.dtype is {dtype!r}; allowed: {', '.join(dtypes)}")
        if (
            not isinstance(shape, list)
            or not shape
            or not all(_is_int(x) and 0 < x <= _MAX_DIM for x in shape)
        ):
            raise ValueError(f"{where}.shape must be a list of positive integers, got {shape!r}")
        quantized = dtype.startswith(("int", "uint")) and dtypes is OUTPUT_DTYPES
        if quantized and not (_is_number(scale) and math.isfinite(scale) and scale > 0):
            raise ValueError(f"{where}.scale must be a positive finite number, got {scale!r}")
        if quantized and not _is_int(zero):
            raise ValueError(f"{where}.zero_point must be an integer, got {zero!r}")
        if not quantized and (scale is not None or zero is not None):
            raise ValueError(f"{where} has a scale or zero_point but is not a quantized output")
        return cls(name, dtype, tuple(shape), scale, zero)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _is_sha256(x: Any) -> bool:
    return isinstance(x, str) and len(x) == 64 and all(c in "0123456789abcdef" for c in x)


def _positive_int(x: Any) -> bool:
    return _is_int(x) and 0 < x <= _MAX_DIM


def _optional_positive_int(x: Any) -> bool:
    return x is None or _positive_int(x)


# manifest.json's scalar fields: field -> (check, what it must be). TensorSpecs are checked
# by TensorSpec.from_dict, enum values by their parse().
_FIELDS: dict[str, tuple[Any, str]] = {
    "task": (lambda x: isinstance(x, str), "a task name"),
    "target": (lambda x: isinstance(x, str), "a target name"),
    "quantization": (lambda x: isinstance(x, str), "a quantization name"),
    "model_file": (lambda x: isinstance(x, str), "a file name"),
    "model_sha256": (_is_sha256, "64 lowercase hex digits"),
    "golden_sha256": (lambda x: x is None or _is_sha256(x), "64 lowercase hex digits"),
    "seq_len": (_positive_int, "a positive integer"),
    "batch": (_positive_int, "a positive integer"),
    "inputs": (lambda x: isinstance(x, list) and x, "a non-empty list of tensor specs"),
    "outputs": (lambda x: isinstance(x, list) and x, "a non-empty list of tensor specs"),
    "labels": (
        lambda x: isinstance(x, list) and all(isinstance(v, str) for v in x),
        "a list of strings",
    ),
    "recipe": (lambda x: isinstance(x, dict), "an object"),
    "float_ops": (lambda x: isinstance(x, list), "a list"),
    "source": (lambda x: isinstance(x, dict), "an object"),
    "tools": (lambda x: isinstance(x, dict), "an object"),
    "vocab_size": (_optional_positive_int, "a positive integer or null"),
    "type_vocab_size": (_optional_positive_int, "a positive integer or null"),
    "format_version": (_is_int, "an integer"),
}
_REQUIRED = ("task", "target", "quantization", "model_file", "model_sha256", "seq_len", "batch",
             "inputs", "outputs")  # fmt: skip


@dataclass
class Manifest:
    """The contents of manifest.json.

    Args:
        task: a convbert_edge.Task value.
        target / quantization: the artifact's two keys (convbert_edge.targets).
        model_file: file name of the model inside the directory.
        model_sha256: sha256 of that file; verify refuses a file that does not match.
        seq_len / batch: the static shapes the model was exported with.
        inputs / outputs: TensorSpecs in the order the model takes and returns them.
        labels: class names for classification tasks (empty otherwise).
        recipe: the quantization recipe (quantize/), as data.
        float_ops: what stays in float in a quantized artifact, each with its reason.
        source: where the weights and vocabulary came from (paths, sha256).
        tools: versions of the tools that built the artifact.
        golden_sha256: sha256 of golden.npz, so that its reference outputs and tolerances
            are as the export wrote them (None: an artifact without a golden bundle, such
            as a peer's, which can be run but not verified).
        vocab_size / type_vocab_size: the model's embedding table sizes; every
            input_ids value must be below the first, every token_type_ids value below
            the second (None in artifacts written before they were recorded).
    """

    task: str
    target: str
    quantization: str
    model_file: str
    model_sha256: str
    seq_len: int
    batch: int
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    labels: list[str] = field(default_factory=list)
    recipe: dict[str, Any] = field(default_factory=dict)
    float_ops: list[dict[str, str]] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)
    tools: dict[str, str] = field(default_factory=dict)
    golden_sha256: str | None = None
    vocab_size: int | None = None
    type_vocab_size: int | None = None
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        data = asdict(self)
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def read(cls, directory: str | Path) -> Manifest:
        """Read and check manifest.json; ArtifactError names the field that is wrong."""
        path = Path(directory) / MANIFEST_NAME
        if not path.is_file():
            raise ArtifactError(f"{directory} is not an artifact: no {MANIFEST_NAME} in it")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ArtifactError(f"{path} is not valid JSON: {err}") from None
        except OSError as err:
            raise ArtifactError(f"{path} cannot be read: {err.strerror or err}") from None
        try:
            return cls._from_data(data)
        except ValueError as err:
            raise ArtifactError(f"{path}: {err}; export the artifact again") from None

    @classmethod
    def _from_data(cls, data: Any) -> Manifest:
        if not isinstance(data, dict):
            raise ValueError(f"the manifest must be a JSON object, got {type(data).__name__}")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(
                f"format_version is {version!r}; this convbert_edge reads {FORMAT_VERSION}"
            )
        missing = [k for k in _REQUIRED if k not in data]
        if missing:
            raise ValueError(f"missing field(s) {', '.join(missing)}")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)}")
        for name, value in data.items():
            check, what = _FIELDS[name]
            if not check(value):
                raise ValueError(f"field {name!r} must be {what}, got {value!r}"[:300])
        target = Target.parse(data["target"])
        Quantization.parse(data["quantization"])
        Task.parse(data["task"])
        if data["model_file"] != MODEL_FILES[target]:
            raise ValueError(f"model_file {data['model_file']!r} is not a {target.value} model")
        fields = {k: v for k, v in data.items() if k not in ("inputs", "outputs")}
        return cls(
            **fields,
            inputs=[
                TensorSpec.from_dict(d, f"inputs[{i}]", INPUT_DTYPES)
                for i, d in enumerate(data["inputs"])
            ],
            outputs=[
                TensorSpec.from_dict(d, f"outputs[{i}]", OUTPUT_DTYPES)
                for i, d in enumerate(data["outputs"])
            ],
        )

    def check_model_file(self, directory: str | Path) -> Path:
        """The model file's path, after checking it exists and matches model_sha256."""
        path = Path(directory) / self.model_file
        if not path.is_file():
            raise ArtifactError(f"the artifact's model file {path} is missing: export it again")
        return _check_sha256(path, self.model_sha256, "the file was changed or truncated")

    def check_golden_file(self, directory: str | Path) -> Path:
        """golden.npz's path, after checking it exists and matches golden_sha256."""
        path = Path(directory) / GOLDEN_NAME
        if self.golden_sha256 is None:
            raise ArtifactError(
                f"{Path(directory) / MANIFEST_NAME} records no golden bundle (golden_sha256), "
                "so there is nothing to verify against: export the artifact with "
                "python -m convbert_edge.export"
            )
        if not path.is_file():
            raise ArtifactError(f"no golden bundle at {path}: export the artifact again")
        return _check_sha256(
            path, self.golden_sha256, "its reference outputs or tolerances were changed"
        )


def _check_sha256(path: Path, expected: str, meaning: str) -> Path:
    digest = sha256_file(path)
    if digest != expected:
        raise ArtifactError(
            f"{path} does not match its manifest (sha256 {digest[:12]}…, manifest says "
            f"{expected[:12]}…): {meaning}; export it again"
        )
    return path


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def checkpoint_hashes(directory: str | Path) -> dict[str, str]:
    """sha256 of a checkpoint's config.json and weight files (.safetensors, .bin), by file
    name in name order: what ``source.checkpoint_sha256`` of a manifest records, so that a
    reader (the report) can tell whether an artifact was built from the weights it has."""
    return {
        p.name: sha256_file(p)
        for p in sorted(Path(directory).iterdir())
        if p.name == "config.json" or p.suffix in (".safetensors", ".bin")
    }
