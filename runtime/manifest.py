"""manifest.json: what an artifact directory holds and how to feed it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from convbert_edge.errors import ArtifactError
from convbert_edge.targets import MODEL_FILES, Quantization, Target

MANIFEST_NAME = "manifest.json"
GOLDEN_NAME = "golden.npz"
FORMAT_VERSION = 1


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
    def from_dict(cls, d: dict) -> TensorSpec:
        return cls(
            d["name"],
            d["dtype"],
            tuple(int(x) for x in d["shape"]),
            d.get("scale"),
            d.get("zero_point"),
        )


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
    vocab_size: int | None = None
    type_vocab_size: int | None = None
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        data = asdict(self)
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def read(cls, directory: str | Path) -> Manifest:
        path = Path(directory) / MANIFEST_NAME
        if not path.is_file():
            raise ArtifactError(f"{directory} is not an artifact: no {MANIFEST_NAME} in it")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            manifest = cls(
                **{k: v for k, v in data.items() if k not in ("inputs", "outputs")},
                inputs=[TensorSpec.from_dict(d) for d in data["inputs"]],
                outputs=[TensorSpec.from_dict(d) for d in data["outputs"]],
            )
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ArtifactError(f"{path} is not valid JSON: {err}") from None
        except (KeyError, TypeError, ValueError) as err:
            raise ArtifactError(f"{path} is missing or has a malformed field: {err}") from None
        if manifest.format_version != FORMAT_VERSION:
            raise ArtifactError(
                f"{path} has format_version {manifest.format_version}; this convbert_edge reads "
                f"{FORMAT_VERSION}: export the artifact again"
            )
        try:
            target = Target.parse(manifest.target)
            Quantization.parse(manifest.quantization)
        except ValueError as err:
            raise ArtifactError(f"{path}: {err}") from None
        if manifest.model_file != MODEL_FILES[target]:
            raise ArtifactError(
                f"{path}: model_file {manifest.model_file!r} is not a {target.value} model"
            )
        return manifest

    def check_model_file(self, directory: str | Path) -> Path:
        """The model file's path, after checking it exists and matches model_sha256."""
        path = Path(directory) / self.model_file
        if not path.is_file():
            raise ArtifactError(f"the artifact's model file {path} is missing: export it again")
        digest = sha256_file(path)
        if digest != self.model_sha256:
            raise ArtifactError(
                f"{path} does not match its manifest (sha256 {digest[:12]}…, manifest says "
                f"{self.model_sha256[:12]}…): the file was changed or truncated; export it again"
            )
        return path


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
