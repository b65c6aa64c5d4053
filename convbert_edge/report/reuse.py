"""Measuring the artifacts ``make demo``'s exports just wrote instead of building them again.

`python -m convbert_edge.export --target tflite --int8` publishes a verified artifact at
artifacts/<model>-<task>-tflite-int8-linear in the working directory, and the ExecuTorch
export beside it. The quick report measures those. When an artifact's manifest says it
was built from the same checkpoint (sha256 of its config and weights) with the settings
the report would build it with (target, recipe, task, seq_len, batch, calibration) and
its model file still matches its sha256, the report times and scores it where it is and
writes nothing into it. Anything else (no directory, another checkpoint, other flags, an
edited model file, a manifest from before the checkpoint's hashes were recorded) is
refused with the reason, and the report builds its own copy under its cache as before.

    check = check_export("tflite-int8-linear", ctx)   # ExportReuse: reused, or why not
    spec = check.spec(ctx.task) if check.reused else build_variant(name, ctx)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from convbert_edge.errors import ConvBertEdgeError
from convbert_edge.runtime.manifest import Manifest, checkpoint_hashes

from .runners import RunnerSpec
from .variants import VARIANTS, BuildContext


@dataclass(frozen=True)
class ExportReuse:
    """What the report did about one export directory.

    Args:
        variant: the report's name for the artifact.
        path: the export's default directory, as the export printed it.
        reused: the report measured the export itself (and built nothing).
        reason: why it was not reused ("" when it was).
        model_sha256: the reused model file's sha256, checked against its manifest.
    """

    variant: str
    path: str
    reused: bool
    reason: str = ""
    model_sha256: str | None = None

    def spec(self, task: str) -> RunnerSpec:
        return RunnerSpec("artifact", str(Path(self.path).resolve()), task)

    def describe(self) -> str:
        if self.reused:
            return f"`{self.variant}`: reused `{self.path}` (model sha256 {self.model_sha256})"
        return (
            f"`{self.variant}`: built by the report, not reused from `{self.path}`: " + self.reason
        )

    def as_dict(self) -> dict:
        return asdict(self)


def reusable(name: str) -> bool:
    """Whether ``name`` is an export the report may take as it is: ours, without QAT
    (a QAT export's steps and learning rate are not in its recipe, so a match could not
    be told from a mismatch)."""
    ours = VARIANTS[name].export
    return ours is not None and not ours.qat


def check_export(name: str, ctx: BuildContext) -> ExportReuse:
    """Whether the export's default directory holds variant ``name`` as the report would
    build it; reads the directory, never writes into it."""
    from convbert_edge.exporters.inputs import DEFAULT_TEXTS
    from convbert_edge.exporters.pipeline import default_out, plan_recipe
    from convbert_edge.tasks import Task

    if not reusable(name):
        raise ValueError(f"{name} is not an export the report can reuse")
    ours = VARIANTS[name].export
    options = ours.export_options(ctx, out=None)
    recipe = plan_recipe(options, log=lambda _: None)
    path = default_out(options, ctx.model_name, Task.parse(ctx.task), recipe)
    if not path.is_dir():
        command = f"export --target {ours.target} --quant {ours.quantization}"
        return ExportReuse(name, str(path), False, f"no export there (`{command}` writes it)")
    try:
        manifest = Manifest.read(path)
        manifest.check_model_file(path)
    except ConvBertEdgeError as err:
        return ExportReuse(name, str(path), False, str(err).splitlines()[0])
    wanted = {
        "target": options.target.value,
        "task": ctx.task,
        "seq_len": ctx.seq_len,
        "batch": options.batch,
        "calibration": options.calibration or DEFAULT_TEXTS,
        "qat": options.qat,
        # through JSON, as the manifest holds it (tuples become lists)
        **{f"recipe.{k}": v for k, v in json.loads(json.dumps(recipe.as_dict())).items()},
    }
    found = {
        "target": manifest.target,
        "task": manifest.task,
        "seq_len": manifest.seq_len,
        "batch": manifest.batch,
        "calibration": manifest.source.get("calibration"),
        "qat": manifest.source.get("qat"),
        **{f"recipe.{k}": v for k, v in manifest.recipe.items()},
    }
    differences = [
        f"{key} {found.get(key)!r} (the report builds {value!r})"
        for key, value in wanted.items()
        if key != "recipe.notes" and found.get(key) != value  # notes are prose
    ]
    recorded = manifest.source.get("checkpoint_sha256")
    if recorded is None:
        differences.append("its manifest does not record the checkpoint's sha256 (an older export)")
    elif recorded != checkpoint_hashes(ctx.model_dir):
        differences.append(f"built from another checkpoint than {ctx.model_dir} (sha256 differ)")
    if differences:
        return ExportReuse(name, str(path), False, "; ".join(differences))
    return ExportReuse(name, str(path), True, model_sha256=manifest.model_sha256)


def shipped_variant(target: str) -> str:
    """The variant `python -m convbert_edge.export --target TARGET --int8` (no other flag)
    writes: ours, int8, no QAT, with the exporter's default int8 scope."""
    from convbert_edge.exporters.options import ExportOptions

    default_scope = ExportOptions(target=target, quantization="int8").int8_scope
    for name, variant in VARIANTS.items():
        ours = variant.export
        if (
            ours is not None
            and ours.target == target
            and ours.quantization == "int8"
            and not ours.qat
            and ExportOptions(target, "int8", int8_scope=ours.int8_scope).int8_scope
            == default_scope
        ):
            return name
    raise ValueError(f"no variant is what `--target {target} --int8` writes")
