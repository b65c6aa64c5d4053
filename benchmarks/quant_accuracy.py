"""Task accuracy of fp32, post-training int8 and QAT int8 artifacts on held-out data.

    python benchmarks/quant_accuracy.py [--models sentiment,wnut16,squad]
        [--targets tflite,executorch] [--modes fp32,int8,qat] [--qat-models sentiment,wnut16]
        [--work-dir runs/accuracy] [--write-docs docs/accuracy.md]

For each model: score our PyTorch stack in fp32 eager (the reference), then export every
target x mode with the export pipeline (the same code as `python -m convbert_edge.export`),
load the artifact with ``runtime.session.load`` and score it on the same calls. Prints
score, drop against the fp32 reference (points), and agreement with the reference's
predictions, and checks issue 6's budgets on the sentiment model.

The sentiment model is the embedded default; the WNUT-16 and SQuAD models are trained
first with the commands in docs/task_models.md when ``--work-dir`` does not hold them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from convbert_edge.default_model import default_checkpoint
from convbert_edge.evaluation import EvalSet, agreement, eager_runner, eval_set, evaluate
from convbert_edge.exporters.pipeline import ExportOptions, export
from convbert_edge.exporters.selection import QatCheck
from convbert_edge.report.budget import BUDGETS
from convbert_edge.runtime.session import load
from convbert_edge.tasks import Task
from convbert_edge.tokenizer import checkpoint_tokenizer
from convbert_edge.torch_stack import model_class

# Issue 6's budgets, in points of the task metric and share of predictions: the report's.
PTQ_MAX_DROP, PTQ_MIN_AGREEMENT = BUDGETS["ptq"].max_drop, BUDGETS["ptq"].min_agreement
QAT_MAX_DROP = BUDGETS["qat"].max_drop
DOC_BEGIN, DOC_END = "<!-- quant_accuracy:begin -->", "<!-- quant_accuracy:end -->"


@dataclass(frozen=True)
class ModelSpec:
    """One model to measure: where it comes from and what it is scored on."""

    dataset: str  # eval and calibration data set
    task: Task
    checkpoint: Callable[[Path], Path]  # work_dir -> checkpoint directory
    eval_limit: int | None = None
    qat_steps: dict[str, int] = field(default_factory=dict)  # target -> --qat-steps


def _trained(name: str, train_args: list[str]) -> Callable[[Path], Path]:
    def checkpoint(work_dir: Path) -> Path:
        out = work_dir / "models" / name
        if not (out / "model.safetensors").is_file():
            from convbert_edge.train import main as train_main

            print(f"training {name} (not found in {out}) ...", flush=True)
            train_main([*train_args, "--out-dir", str(out)])  # exits 2 on a bad run
        return out

    return checkpoint


# The commands of docs/task_models.md (out-dir added by _trained).
WNUT16_TRAIN = (
    "--dataset wnut16 --preset conv-bert-small --num-layers 4 --init-embeddings minilm "
    "--seq-len 64 --batch-size 32 --epochs 15 --lr 5e-4 --seed 0 --threads 1 --log-every 50"
).split()
SQUAD_TRAIN = (
    "--dataset squad --preset conv-bert-small --num-layers 2 --init-embeddings minilm "
    "--seq-len 128 --batch-size 32 --epochs 1 --lr 1e-3 --max-train-examples 12000 "
    "--seed 0 --threads 1 --log-every 25"
).split()

MODELS: dict[str, ModelSpec] = {
    "sentiment": ModelSpec(
        "movie_reviews", Task.SEQUENCE_CLASSIFICATION, lambda work_dir: default_checkpoint()
    ),
    # ExecuTorch QAT at its 300-step default left WNUT-16 0.20 F1 points below fp32
    # (2026-12-07); 600 steps closed it (docs/accuracy.md).
    "wnut16": ModelSpec(
        "wnut16",
        Task.TOKEN_CLASSIFICATION,
        _trained("convbert-small-wnut16", WNUT16_TRAIN),
        qat_steps={"executorch": 600},
    ),
    "squad": ModelSpec(
        "squad", Task.QUESTION_ANSWERING, _trained("convbert-small-squad", SQUAD_TRAIN)
    ),
}


@dataclass
class Row:
    model: str
    target: str
    mode: str
    metric: str
    score: float
    drop_points: float
    agreement: float
    size_mb: float
    export_seconds: float
    f1: float | None = None  # question answering's second metric
    qat_check: QatCheck | None = None  # the manifest's source.qat_check: what --qat shipped


def measure(
    name: str,
    spec: ModelSpec,
    targets: list[str],
    modes: list[str],
    work_dir: Path,
    seq_len: int,
    reuse: bool = False,
) -> list[Row]:
    checkpoint = spec.checkpoint(work_dir)
    tokenizer = checkpoint_tokenizer(checkpoint)
    data: EvalSet = eval_set(spec.dataset, tokenizer, seq_len, limit=spec.eval_limit)
    reference_model = model_class(spec.task).from_pretrained(checkpoint)
    reference = evaluate(eager_runner(reference_model), data)
    print(
        f"{name}: {data.name}, {len(data)} examples; fp32 eager {data.metric} "
        f"{reference.score:.4f}",
        flush=True,
    )
    rows = [
        Row(
            name, "pytorch eager", "fp32", data.metric, reference.score, 0.0, 1.0, 0.0, 0.0,
            reference.extra.get("f1"),
        )
    ]  # fmt: skip
    for target in targets:
        for mode in modes:
            out = work_dir / "artifacts" / f"{name}-{target}-{mode}"
            options = ExportOptions(
                target=target,
                quantization="fp32" if mode == "fp32" else "int8",
                qat=mode == "qat",
                qat_steps=spec.qat_steps.get(target) if mode == "qat" else None,
                # docs/accuracy.md's TFLite rows are the integer-only model, where int8
                # costs most; --int8's default (linear scope) is in the report.
                int8_scope="all" if target == "tflite" and mode != "fp32" else None,
                model=str(checkpoint),
                task=spec.task,
                seq_len=seq_len,
                calibration=spec.dataset,
                out=out,
            )
            start = time.perf_counter()
            if reuse and (out / "manifest.json").is_file():
                seconds = float("nan")  # made by an earlier run with the same settings
            else:
                export(options, log=lambda line: None)
                seconds = time.perf_counter() - start
            session = load(out)
            scored = evaluate(session.run, data)
            record = session.manifest.source.get("qat_check")
            check = QatCheck.from_dict(record) if record else None
            row = Row(
                name,
                target,
                mode,
                data.metric,
                scored.score,
                100 * (reference.score - scored.score),
                agreement(scored, reference),
                session.model_path.stat().st_size / 1e6,
                seconds,
                scored.extra.get("f1"),
                check,
            )
            shipped = f" ({check.summary()})" if check else ""
            print(
                f"  {target:10s} {mode:5s} {row.score:.4f} drop {row.drop_points:+.2f} pt "
                f"agreement {row.agreement:.4f} {row.size_mb:.1f} MB export {seconds:.0f} s"
                + (f" (F1 {scored.extra['f1']:.4f})" if "f1" in scored.extra else "")
                + shipped,
                flush=True,
            )
            rows.append(row)
    return rows


def budget_checks(rows: list[Row]) -> list[str]:
    """Issue 6's acceptance lines on the sentiment model, as PASS/MISS lines."""
    lines = []
    by_key = {(r.model, r.target, r.mode): r for r in rows}
    for target in ("tflite", "executorch"):
        ptq, qat = (
            by_key.get(("sentiment", target, "int8")),
            by_key.get(("sentiment", target, "qat")),
        )
        if ptq:
            ok = ptq.drop_points <= PTQ_MAX_DROP and ptq.agreement >= PTQ_MIN_AGREEMENT
            lines.append(
                f"{'PASS' if ok else 'MISS'} {target} PTQ int8: drop {ptq.drop_points:.2f} pt "
                f"(<= {PTQ_MAX_DROP}), agreement {ptq.agreement:.4f} (>= {PTQ_MIN_AGREEMENT})"
            )
        if qat and qat.qat_check and qat.qat_check.shipped != "qat":
            # the QAT model lost to post-training int8 on dev, so --qat shipped the latter:
            # the row is post-training int8, and the budget has no QAT model to judge
            lines.append(f"NO QAT MODEL {target}: {qat.qat_check.summary()}")
        elif qat:
            ok = qat.drop_points <= QAT_MAX_DROP and (ptq is None or qat.score >= ptq.score)
            lines.append(
                f"{'PASS' if ok else 'MISS'} {target} QAT int8: drop {qat.drop_points:.2f} pt "
                f"(<= {QAT_MAX_DROP}), score {qat.score:.4f} vs PTQ "
                f"{ptq.score if ptq else float('nan'):.4f} (not below)"
            )
    return lines


def markdown(rows: list[Row], checks: list[str], command: str) -> str:
    lines = [
        f"    {command}",
        "",
        "| model | runtime | mode | metric | score | drop (pt) | agreement | size MB |",
        "|---|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        size = f"{r.size_mb:.1f}" if r.size_mb else ""
        score = f"{r.score:.4f}" + (f" (F1 {r.f1:.4f})" if r.f1 is not None else "")
        mode = r.mode
        if r.qat_check and r.qat_check.shipped != "qat":
            mode += " (post-training int8 shipped)"
        lines.append(
            f"| {r.model} | {r.target} | {mode} | {r.metric} | {score} | "
            f"{r.drop_points:+.2f} | {r.agreement:.4f} | {size} |"
        )
    lines += ["", *[f"- {c}" for c in checks]]
    return "\n".join(lines)


def write_docs(path: Path, text: str) -> None:
    """Replace the text between the markers in ``path`` (the rest of the page is prose)."""
    page = path.read_text(encoding="utf-8")
    start, end = page.index(DOC_BEGIN) + len(DOC_BEGIN), page.index(DOC_END)
    path.write_text(page[:start] + "\n" + text + "\n" + page[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--targets", default="tflite,executorch")
    p.add_argument("--modes", default="fp32,int8,qat")
    p.add_argument(
        "--qat-models",
        default="sentiment,wnut16",
        help="models that get the qat mode (others skip it; SQuAD's would add the most time)",
    )
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--work-dir", type=Path, default=Path("runs/accuracy"))
    p.add_argument("--write-docs", type=Path, default=None, help="e.g. docs/accuracy.md")
    p.add_argument(
        "--reuse", action="store_true", help="score artifacts an earlier run left in --work-dir"
    )
    args = p.parse_args(argv)
    unknown = set(args.models.split(",")) - set(MODELS)
    if unknown:
        p.error(f"unknown models {sorted(unknown)}; valid: {sorted(MODELS)}")
    rows: list[Row] = []
    for name in args.models.split(","):
        rows += measure(
            name,
            MODELS[name],
            args.targets.split(","),
            [m for m in args.modes.split(",") if m != "qat" or name in args.qat_models.split(",")],
            args.work_dir,
            args.seq_len,
            args.reuse,
        )
    checks = budget_checks(rows)
    print("\n".join(checks))
    args.work_dir.mkdir(parents=True, exist_ok=True)
    (args.work_dir / "results.json").write_text(
        json.dumps({"rows": [asdict(r) for r in rows], "checks": checks}, indent=2) + "\n"
    )
    flags = sys.argv[1:] if argv is None else argv
    command = "python benchmarks/quant_accuracy.py " + " ".join(flags)
    if args.write_docs:
        write_docs(args.write_docs, markdown(rows, checks, command.strip()))
    print(markdown(rows, checks, command.strip()))
    return 0 if all(c.startswith("PASS") for c in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
