"""report.md, report.json and report.png from a Report.

The markdown leads with the verdicts (the acceptance ratios, PASS or MISS), then one
table per model; the picture plots score against 2-thread median latency with the
Pareto front drawn and every point labelled.
"""

from __future__ import annotations

import json
from pathlib import Path

from convbert_edge.io_utils import atomic_write_text

from .budget import ACCEPTANCE_THREADS, BUDGETS
from .labels import place_labels
from .modes import FULL
from .pareto import pareto_front
from .results import Section, VariantResult

LABEL_FONTSIZE = 7


def _f(x, fmt: str, empty: str = "–") -> str:
    return empty if x is None else format(x, fmt)


def _score_cells(v: VariantResult, section: Section) -> list[str]:
    if section.metric is None:
        return []
    budget = "–" if v.meets_budget is None else ("yes" if v.meets_budget else "**no**")
    return [
        _f(None if v.score is None else 100 * v.score, ".2f"),
        _f(v.drop_points, "+.2f"),
        _f(None if v.agreement is None else 100 * v.agreement, ".1f"),
        budget,
    ]


def section_table(section: Section, threads: tuple[int, ...]) -> str:
    head = ["variant", "size MB"]
    if section.metric is not None:
        head += [f"{section.metric} %", "drop pt", "agree %", "budget"]
    for t in threads:
        head += [f"median ms {t}t", f"p90 {t}t", f"IQR {t}t"]
    head += ["load s", "peak MB", "model MB"]
    gemm = bool(section.gemm)  # not measured in quick mode: no empty columns
    head += [f"GEMM frac {t}t" for t in threads if gemm]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for v in section.variants:
        if not v.available:
            lines.append(f"| {v.label} | not available: {v.reason} |" + " |" * (len(head) - 2))
            continue
        cells = [v.label, _f(v.size_mb, ".1f"), *_score_cells(v, section)]
        for t in threads:
            s = v.latency.get(t)
            cells += [_f(s and s.median, ".2f"), _f(s and s.p90, ".2f"), _f(s and s.iqr, ".2f")]
        m = v.memory
        cells += [
            _f(m and m.load_seconds, ".2f"),
            _f(m and m.peak_mb, ".0f"),
            _f(m and m.model_mb, ".0f") if m else (v.memory_error or "–")[:40],
        ]
        cells += [_f(v.gemm_fraction.get(t), ".0%") for t in threads if gemm]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def has_ceiling(section: Section) -> bool:
    """Whether a verdict has a "ceiling": the ratio at the runtime's int8 GEMM speed with
    no other work (results.gemm_ceiling), known only where the GEMM limit was measured."""
    return any(r.ceiling is not None for r in section.ratios)


def ratio_table(section: Section) -> str:
    ceiling = has_ceiling(section)
    lines = [
        "| target | ours | reference | ratio | needed | verdict |"
        + (" ceiling |" if ceiling else "")
        + " note |",
        "|---|---|---|---:|---:|---|" + ("---:|" if ceiling else "") + "---|",
    ]
    for r in section.ratios:
        cells = (
            f"| {r.description} | {r.ours or '–'} | {r.reference or '–'} | "
            f"{_f(r.value, '.2f')}x | {r.needed} | **{r.verdict}** |"
        )
        if ceiling:
            cells += f" {_f(r.ceiling, '.2f')}{'x' if r.ceiling is not None else ''} |"
        lines.append(f"{cells} {r.note} |")
    return "\n".join(lines)


def gemm_table(section: Section) -> str:
    rows, k, n = section.largest_linear
    lines = [
        f"Largest linear layer: {rows} x {k} -> {n}; model {section.flops / 1e9:.2f} GFLOP a call.",
        "",
        "| runtime | threads | int8 GEMM median ms | GOP/s |",
        "|---|---:|---:|---:|",
    ]
    for t, limits in section.gemm.items():
        for runtime, g in limits.items():
            lines.append(f"| {runtime} | {t} | {g.latency.median:.3f} | {g.gops:.0f} |")
    return "\n".join(lines)


def mode_line(options) -> str:
    """Which mode made the report, and what the full one would add."""
    line = f"Mode: **{options.describe()}**."
    if options.mode != "full":
        line += (
            " The full sweep (`--full`: every variant, QAT included, at 1 and 2 threads, "
            f"every row scored, with the int8 GEMM limit; {FULL.minutes} min) has the rest."
        )
    return line


def markdown(report) -> str:
    o = report.options
    lines = [
        "# Accuracy and latency report",
        "",
        f"Machine: {report.machine.summary()}.",
        f"Settings: seq {o.seq_len}, batch 1, threads {', '.join(map(str, o.threads))}; "
        f"{o.warmup} warm-up rounds, then {o.runs} timed rounds, each visiting every variant "
        "once in a freshly shuffled order (so load drift hits all alike). Ratios come from "
        "medians of the same run.",
        f"Accuracy budget: PTQ {BUDGETS['ptq'].describe()}; QAT {BUDGETS['qat'].describe()}, "
        "both against our fp32 model.",
        f"Total wall time: {report.seconds / 60:.1f} min.",
        "",
        mode_line(o),
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in report.machine.packages.items()),
    ]
    for section in report.sections:
        lines += ["", f"## {section.title}: {section.model}, {section.task}", ""]
        if section.metric is not None:
            lines.append(
                f"Scored on {section.eval_set} ({section.eval_examples} examples); drop and "
                f"agreement against `{section.reference}`."
            )
        if section.reuse:
            lines += ["", "Exported artifacts:", *(f"- {r.describe()}" for r in section.reuse)]
        lines += ["", f"### Acceptance at {ACCEPTANCE_THREADS} threads", "", ratio_table(section)]
        if has_ceiling(section):
            lines += [
                "",
                "ceiling: the ratio ours would reach if the model's FLOPs all ran at its "
                "runtime's int8 GEMM speed on this CPU and nothing else took time (below); "
                "a line above it cannot be met here by any int8 model of this shape.",
            ]
        lines += ["", "### Every variant", "", section_table(section, o.threads)]
        lines += ["", "### Against the CPU's int8 GEMM limit", ""]
        if section.gemm:
            lines += [
                gemm_table(section),
                "",
                "GEMM frac: the variant's model FLOPs per second over the same runtime's "
                "int8 GEMM speed (eager PyTorch rows have no int8 runtime to compare).",
            ]
        else:
            lines.append("Not measured in this mode (`--full` measures it).")
        lines += [f"- {n}" for n in section.notes]
    lines += ["", "![accuracy against latency](report.png)", ""]
    return "\n".join(lines)


def plot(report, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = figure(report)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def figure(report):
    """The accuracy-latency picture of the report's first section, labels placed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    section = report.sections[0]
    t = (
        ACCEPTANCE_THREADS
        if ACCEPTANCE_THREADS in report.options.threads
        else report.options.threads[-1]
    )
    measured = [v for v in section.variants if v.median(t) is not None]
    fig, ax = plt.subplots(figsize=(10, 6.5))
    if section.metric is not None:
        pts = {v.name: (v.median(t), 100 * v.score) for v in measured if v.score is not None}
    else:  # random weights: only latency means something
        pts = {v.name: (v.median(t), 0.0) for v in measured}
    front = pareto_front(pts)
    colours = {"ours": "tab:blue", "peer": "tab:orange", "baseline": "tab:gray"}
    shown = [v for v in measured if v.name in pts]
    for v in shown:
        x, y = pts[v.name]
        ax.scatter(
            x,
            y,
            s=60 if v.name in front else 30,
            color=colours[v.family],
            edgecolor="black" if v.name in front else "none",
            zorder=3,
        )
    line = sorted(pts[n] for n in front)
    if line:
        ax.plot(*zip(*line, strict=True), "--", color="tab:green", label="Pareto front", zorder=2)
    for family, colour in colours.items():
        ax.scatter([], [], color=colour, label=family)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.margins(x=0.12, y=0.15)
    ax.set_xlabel(f"median latency, ms (seq {section.seq_len}, batch 1, {t} threads, log scale)")
    ax.set_ylabel(f"{section.metric or 'score (not measured)'} on {section.eval_set or '–'}, %")
    ax.set_title(f"{section.model}: accuracy against latency")
    ax.grid(True, which="both", alpha=0.3)
    # the legend sits below the axes, so that it hides no point and no label
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4, fontsize=8)
    fig.tight_layout()
    _label_points(fig, ax, [(pts[v.name], v.label) for v in shown], line)
    return fig


def _label_points(
    fig, ax, points: list[tuple[tuple[float, float], str]], front: list[tuple[float, float]]
) -> None:
    """Annotate each point where labels.place_labels finds room (layout must be final)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    anchors, sizes = [], []
    for xy, label in points:
        probe = ax.text(0, 0, label, fontsize=LABEL_FONTSIZE)
        extent = probe.get_window_extent(renderer)
        probe.remove()
        anchors.append(tuple(ax.transData.transform(xy)))
        sizes.append((extent.width, extent.height))
    axes_box = ax.get_window_extent(renderer)
    bounds = (axes_box.x0, axes_box.y0, axes_box.x1, axes_box.y1)
    corners = [tuple(ax.transData.transform(xy)) for xy in front]
    # straight in pixels: the axes are log-linear
    lines = list(zip(corners[:-1], corners[1:], strict=True))
    places = place_labels(anchors, sizes, bounds, lines)
    for (xy, label), anchor, place in zip(points, anchors, places, strict=True):
        x0, y0 = place.corner
        ax.annotate(
            label,
            xy,
            # in points, so the offsets hold at savefig's dpi too
            xytext=((x0 - anchor[0]) * 72 / fig.dpi, (y0 - anchor[1]) * 72 / fig.dpi),
            textcoords="offset points",
            ha="left",
            va="bottom",
            fontsize=LABEL_FONTSIZE,
            arrowprops=(
                {"arrowstyle": "-", "lw": 0.4, "color": "0.5", "shrinkA": 0, "shrinkB": 3}
                if place.leader
                else None
            ),
        )


def as_json(report) -> dict:
    o = report.options
    return {
        "machine": report.machine.as_dict(),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(o).items()},
        "seconds": report.seconds,
        "budgets": {k: vars(b) for k, b in BUDGETS.items()},
        "sections": [s.as_dict() for s in report.sections],
    }


def write_report(report) -> Path:
    out = Path(report.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "report.md", markdown(report))
    atomic_write_text(out / "report.json", json.dumps(as_json(report), indent=2) + "\n")
    plot(report, out / "report.png")
    return out
