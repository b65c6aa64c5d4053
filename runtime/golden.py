"""golden.npz: real-text inputs, the fp32 reference outputs for them, and the tolerances.

The same bundle is checked here and on a phone, so it is plain arrays in an .npz
(no pickles). Keys: ``input/<name>``, ``output/<name>``, ``tolerance/<metric>`` (only the
bounds that are checked; a bundle with none, or a bound that is not a finite number, is
broken: it would let any output pass); the texts the inputs were made from are kept as
``texts`` for people reading a failure.
"""

from __future__ import annotations

import zipfile
import zlib
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
            if v is not None:
                arrays[f"tolerance/{k}"] = np.asarray(v, np.float64)
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
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error,
                NotImplementedError) as err:  # fmt: skip
            raise ArtifactError(f"{path} is not a readable golden bundle ({err})") from None
        return cls._from_arrays(arrays, path)

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], path: Path) -> GoldenBundle:
        def broken(why: str) -> ArtifactError:
            return ArtifactError(f"{path} is broken: {why}; export the artifact again")

        known = {"max_abs", "min_cosine", "min_sqnr_db", "min_argmax_agreement"}
        tol = {}
        for key, value in arrays.items():
            if not key.startswith("tolerance/"):
                continue
            metric = key.split("/", 1)[1]
            if metric not in known:
                raise broken(f"unknown tolerance {metric!r} (known: {', '.join(sorted(known))})")
            if value.shape != () or value.dtype.kind not in "fiu":
                raise broken(f"tolerance {metric!r} is not a number ({value.dtype}, {value.shape})")
            if not np.isfinite(value):
                raise broken(f"tolerance {metric!r} is {float(value)}, not a finite bound")
            tol[metric] = float(value)
        if not tol:
            raise broken("it holds no tolerance, so any outputs would pass")
        inputs = {k[6:]: v for k, v in arrays.items() if k.startswith("input/")}
        outputs = {k[7:]: v for k, v in arrays.items() if k.startswith("output/")}
        if not inputs or not outputs:
            raise broken("it holds no inputs or no reference outputs")
        for name, value in {**inputs, **outputs}.items():
            if value.ndim == 0 or value.shape[0] == 0:
                raise broken(f"{name!r} holds no calls (shape {value.shape})")
        for name, value in inputs.items():
            if value.dtype.kind not in "iu":
                raise broken(f"input {name!r} is {value.dtype}, not integer token data")
        for name, value in outputs.items():
            if value.dtype.kind != "f":
                raise broken(f"reference output {name!r} is {value.dtype}, not float")
            if not np.isfinite(value).all():
                raise broken(f"reference output {name!r} holds NaN or inf")
        texts = arrays.get("texts", np.asarray([], np.str_))
        return cls(
            inputs=inputs,
            outputs=outputs,
            tolerance=Tolerance.from_dict(tol),
            texts=[str(t) for t in texts.reshape(-1)] if texts.dtype.kind == "U" else [],
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
            calls = {a.shape[0] for a in arrays.values()}
            if len(calls) != 1 or calls != {self.calls}:
                raise ArtifactError(
                    f"{path}: golden inputs and outputs hold different numbers of calls"
                )
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
