"""golden.npz: real-text inputs, the fp32 reference outputs for them, and the tolerances.

The same bundle is checked here and on a phone, so it is plain arrays in an .npz
(no pickles). Keys: ``input/<name>``, ``output/<name>``, ``tolerance/<metric>``; the
texts the inputs were made from are kept as ``texts`` for people reading a failure.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from convbert_edge.errors import ArtifactError
from convbert_edge.io_utils import atomic_write

from .manifest import Manifest
from .tolerances import Tolerance


@dataclass
class GoldenBundle:
    """Inputs, fp32 reference outputs and the tolerance an artifact must meet on them.

    Every array is a stack of model calls: shape (calls, *the model's tensor shape), so
    a batch-1 artifact is checked on as many texts as the bundle holds.
    """

    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    tolerance: Tolerance
    texts: list[str] = field(default_factory=list)

    def save(self, path: str | Path) -> Path:
        arrays: dict[str, np.ndarray] = {}
        arrays.update({f"input/{k}": np.asarray(v) for k, v in self.inputs.items()})
        arrays.update({f"output/{k}": np.asarray(v, np.float32) for k, v in self.outputs.items()})
        for k, v in self.tolerance.as_dict().items():
            arrays[f"tolerance/{k}"] = np.asarray(np.nan if v is None else v, np.float64)
        arrays["texts"] = np.asarray(self.texts, dtype=np.str_)

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)

        return atomic_write(path, write)

    @classmethod
    def load(cls, path: str | Path) -> GoldenBundle:
        path = Path(path)
        if not path.is_file():
            raise ArtifactError(f"no golden bundle at {path}: export the artifact again")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
            raise ArtifactError(f"{path} is not a readable golden bundle ({err})") from None
        tol = {
            k.split("/", 1)[1]: (None if np.isnan(v) else float(v))
            for k, v in arrays.items()
            if k.startswith("tolerance/")
        }
        return cls(
            inputs={k[6:]: v for k, v in arrays.items() if k.startswith("input/")},
            outputs={k[7:]: v for k, v in arrays.items() if k.startswith("output/")},
            tolerance=Tolerance.from_dict(tol),
            texts=[str(t) for t in arrays.get("texts", [])],
        )

    def check_against(self, manifest: Manifest, path: str | Path) -> None:
        """Raise ArtifactError unless the bundle's names and shapes fit the manifest."""
        for kind, specs, arrays in (
            ("input", manifest.inputs, self.inputs),
            ("output", manifest.outputs, self.outputs),
        ):
            names = [s.name for s in specs]
            if sorted(arrays) != sorted(names):
                raise ArtifactError(
                    f"{path}: golden {kind}s {sorted(arrays)} do not match the manifest's {names}"
                )
            calls = {a.shape[0] for a in arrays.values() if a.ndim}
            if len(calls) != 1:
                raise ArtifactError(f"{path}: golden {kind}s hold different numbers of calls")
            for spec in specs:
                if tuple(arrays[spec.name].shape[1:]) != tuple(spec.shape):
                    raise ArtifactError(
                        f"{path}: golden {kind} {spec.name} has shape "
                        f"{tuple(arrays[spec.name].shape)}, expected (calls, "
                        f"{', '.join(map(str, spec.shape))}) for this model"
                    )

    @property
    def calls(self) -> int:
        return next(iter(self.inputs.values())).shape[0]
