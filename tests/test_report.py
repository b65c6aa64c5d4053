"""The report's parts on tiny inputs: round-robin order, statistics, Pareto front, machine
description, budget and ratios, the registry's not-available path, and the writers."""

from __future__ import annotations

import pytest

from convbert_edge.config import ConvBertConfig
from convbert_edge.report import budget
from convbert_edge.report.gemm import GemmLimit, largest_linear, model_flops
from convbert_edge.report.machine import parse_cpuinfo
from convbert_edge.report.pareto import pareto_front
from convbert_edge.report.results import Section, VariantResult, acceptance_ratios
from convbert_edge.report.timing import LatencyStats, percentile, round_robin
from convbert_edge.report.write import ratio_table


class FakeClock:
    """Advances by the cost of whichever call ran last; records the visiting order."""

    def __init__(self, costs):
        self.now, self.costs, self.order, self.pending = 0.0, costs, [], None

    def __call__(self):
        if self.pending is not None:
            self.now += self.costs[self.pending]
            self.pending = None
        return self.now

    def call(self, name):
        def run():
            self.order.append(name)
            self.pending = name

        return run


def test_round_robin_visits_every_variant_each_round_in_a_shuffled_order():
    costs = {"a": 0.001, "b": 0.002, "c": 0.004}
    clock = FakeClock(costs)
    shuffles = []

    def shuffle(order):  # deterministic: rotate by the round number
        k = len(shuffles) % len(order)
        order[:] = order[k:] + order[:k]
        shuffles.append(list(order))

    times = round_robin(
        {n: clock.call(n) for n in costs}, runs=4, warmup=2, clock=clock, shuffle=shuffle
    )
    timed = clock.order[2 * 3 :]  # after two warm-up rounds in registry order
    rounds = [timed[i : i + 3] for i in range(0, len(timed), 3)]
    assert rounds == shuffles
    assert all(sorted(r) == ["a", "b", "c"] for r in rounds)
    assert len({tuple(r) for r in rounds}) > 1  # the order changes between rounds
    assert {n: len(t) for n, t in times.items()} == {"a": 4, "b": 4, "c": 4}
    for name, cost in costs.items():
        assert times[name] == pytest.approx([cost * 1e3] * 4)


def test_round_robin_default_shuffle_changes_the_order():
    order = []
    calls = {n: (lambda n=n: order.append(n)) for n in "abcdef"}
    round_robin(calls, runs=6, warmup=0)
    rounds = {tuple(order[i : i + 6]) for i in range(0, 36, 6)}
    assert len(rounds) > 1


def test_latency_stats():
    stats = LatencyStats.of([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (stats.median, stats.min, stats.max, stats.runs) == (3.0, 1.0, 5.0, 5)
    assert stats.p25 == 2.0 and stats.p75 == 4.0 and stats.iqr == 2.0
    assert stats.p90 == pytest.approx(4.6)
    assert percentile([1.0, 2.0], 50) == 1.5
    with pytest.raises(ValueError):
        round_robin({}, runs=0)


def test_pareto_front():
    points = {
        "fast": (5.0, 0.80),
        "accurate": (20.0, 0.90),
        "middle": (10.0, 0.85),
        "dominated": (12.0, 0.84),  # slower and less accurate than middle
        "tie_slower": (5.0, 0.79),  # as fast as fast, less accurate
    }
    assert pareto_front(points) == {"fast", "accurate", "middle"}
    assert pareto_front({}) == set()
    assert pareto_front({"twin1": (1.0, 0.5), "twin2": (1.0, 0.5)}) == {"twin1", "twin2"}


CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9R14 96-Core Processor
flags\t\t: fpu sse avx2 fma avx512f avx512bw avx512_vnni avx512_bf16

processor\t: 1
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9R14 96-Core Processor
flags\t\t: fpu sse avx2 fma avx512f avx512bw avx512_vnni avx512_bf16
"""


def test_machine_info_from_cpuinfo_text():
    model, processors, flags = parse_cpuinfo(CPUINFO)
    assert model == "AMD EPYC 9R14 96-Core Processor"
    assert processors == 2
    assert "avx512_vnni" in flags and "avx2" in flags and "amx_int8" not in flags
    arm = "processor\t: 0\nFeatures\t: fp asimd asimddp i8mm\nCPU part\t: 0xd0c\n"
    assert parse_cpuinfo(arm) == ("Arm CPU part 0xd0c", 1, ["asimd", "asimddp", "i8mm"])
    assert parse_cpuinfo("") == ("unknown CPU", 0, [])


def test_model_flops_match_the_measured_design_figures():
    small = ConvBertConfig.preset("conv-bert-small")
    base = ConvBertConfig.preset("conv-bert-base")
    assert model_flops(small, 128) / 1e9 == pytest.approx(2.44, abs=0.01)
    assert model_flops(base, 128) / 1e9 == pytest.approx(21.2, abs=0.1)
    assert largest_linear(base, 128) == (128, 768, 3072)


def test_budget_is_met_only_inside_both_limits():
    ptq = budget.BUDGETS["ptq"]
    assert ptq.met(1.0, 0.97)
    assert not ptq.met(1.01, 0.99)
    assert not ptq.met(0.0, 0.969)
    assert budget.BUDGETS["qat"].max_drop < ptq.max_drop


def _row(name, family, precision, median, meets=True, runtime="tflite"):
    row = VariantResult(name, name, family, runtime, precision, meets_budget=meets)
    row.latency[2] = LatencyStats.of([median])
    return row


def _section(rows, metric="accuracy"):
    return Section(
        "model", "m", "sequence-classification", 128, 2.44e9, (128, 256, 1024), rows, metric=metric
    )


def test_ratios_pick_the_fastest_int8_in_budget_and_say_pass_or_miss():
    rows = [
        _row("transformers-eager", "baseline", "fp32", 100.0, None, "torch"),
        _row("tflite-int8", "ours", "int8", 10.0),
        _row("tflite-dynamic-int8", "ours", "dynamic-int8", 5.0, meets=False),  # out of budget
        _row("tflite-fp32", "ours", "fp32", 4.0),  # not int8
        _row("executorch-int8", "ours", "int8", 30.0, runtime="executorch"),
        _row("peer-litert-torch-int8", "peer", "int8", 12.0),
        _row("peer-executorch-int8", "peer", "int8", 90.0, runtime="executorch"),
    ]
    ratios = {r.name: r for r in acceptance_ratios(_section(rows))}
    eager = ratios["vs_transformers_eager"]
    assert eager.ours == "tflite-int8" and eager.value == pytest.approx(10.0)
    assert eager.verdict == "PASS"
    peer = ratios["vs_fastest_peer"]
    assert peer.reference == "peer-litert-torch-int8" and peer.value == pytest.approx(1.2)
    assert peer.verdict == "MISS"
    assert ratios["executorch_vs_transformers_lowered"].value == pytest.approx(3.0)
    assert ratios["executorch_vs_transformers_lowered"].verdict == "MISS"


def test_ratios_without_a_qualifying_variant_are_not_measured():
    rows = [
        _row("transformers-eager", "baseline", "fp32", 100.0, None, "torch"),
        _row("tflite-int8", "ours", "int8", 10.0, meets=False),
    ]
    ratios = acceptance_ratios(_section(rows))
    assert all(r.verdict == "NOT MEASURED" for r in ratios)
    # random-weight shapes (no metric): any int8 of ours counts
    shape = acceptance_ratios(_section(rows, metric=None))
    assert shape[0].verdict == "PASS" and shape[0].ours == "tflite-int8"


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_labels_of_crowded_points_take_free_places_inside_the_axes():
    from convbert_edge.report.labels import place_labels

    bounds = (0.0, 0.0, 600.0, 400.0)
    points = [(100.0, 200.0), (102.0, 201.0), (101.0, 199.0), (104.0, 203.0), (400.0, 200.0)]
    points += [(590.0, 395.0)]  # a corner point: its label must turn inwards
    sizes = [(90.0, 10.0)] * len(points)
    places = place_labels(points, sizes, bounds)
    boxes = [p.box for p in places]
    for i, a in enumerate(boxes):
        assert bounds[0] <= a[0] and a[2] <= bounds[2] and bounds[1] <= a[1] and a[3] <= bounds[3]
        for b in boxes[i + 1 :]:
            assert not _overlap(a, b)
        for j, (x, y) in enumerate(points):  # no label hides a point
            assert not _overlap(a, (x - 5, y - 5, x + 5, y + 5)), (i, j)
    assert not places[4].leader and places[4].box[0] > 400  # alone: right beside its point
    assert places[5].box[2] <= 590  # the corner's label sits to the left
    for (x, y), place in zip(points, places, strict=True):  # a label without a line is close
        b = place.box
        gap = max(b[0] - x, x - b[2], b[1] - y, y - b[3], 0.0)
        assert place.leader or gap <= 6.0


# (label, family, 2-thread median ms, accuracy): a crowded made-up set, and the variants of
# the committed report (docs/report/report.json), whose plot is docs/report/report.png.
CROWDED_PLOT = [
    (name.replace("-", " ") + " variant", "ours" if k % 3 else "peer", median, score)
    for k, (name, median, score) in enumerate(
        [("tflite-int8-linear", 1.9, 0.7937), ("tflite-dynamic-int8", 2.2, 0.7919),
         ("executorch-qat", 2.6, 0.7938), ("peer-litert-torch-int8", 2.6, 0.7937),
         ("executorch-int8", 2.8, 0.7919), ("onnx-int8", 4.7, 0.7947),
         ("tflite-fp16", 4.8, 0.7909), ("tflite-fp32", 4.8, 0.7909),
         ("executorch-fp32", 5.6, 0.7909), ("onnx-fp32", 6.1, 0.7909),
         ("transformers-eager", 11.1, 0.7909), ("peer-executorch-int8", 26.0, 0.7644)]
    )
]  # fmt: skip
COMMITTED_REPORT_PLOT = [
    ("transformers eager fp32", "baseline", 10.52, 0.7909),
    ("ours PyTorch eager fp32", "baseline", 9.09, 0.7909),
    ("TFLite fp32", "ours", 4.79, 0.7909),
    ("TFLite fp16", "ours", 4.71, 0.7909),
    ("TFLite dynamic int8", "ours", 2.18, 0.7919),
    ("TFLite int8", "ours", 8.51, 0.7862),
    ("TFLite int8 (linear layers)", "ours", 1.91, 0.7938),
    ("TFLite QAT int8", "ours", 8.54, 0.7871),
    ("ExecuTorch fp32", "ours", 5.56, 0.7909),
    ("ExecuTorch int8", "ours", 2.63, 0.7938),
    ("ExecuTorch QAT int8", "ours", 2.61, 0.7938),
    ("ONNX fp32", "ours", 5.95, 0.7909),
    ("ONNX int8", "ours", 4.54, 0.7947),
    ("peer: ORT dynamic int8 (optimum)", "peer", 9.97, 0.7909),
    ("peer: litert-torch PT2E int8", "peer", 2.79, 0.7919),
    ("peer: ExecuTorch fp32 (transformers)", "peer", 28.75, 0.7909),
    ("peer: ExecuTorch int8 (transformers)", "peer", 25.49, 0.7644),
]


@pytest.mark.parametrize(
    "points", [CROWDED_PLOT, COMMITTED_REPORT_PLOT], ids=["crowded", "committed"]
)
def test_drawn_labels_overlap_no_label_and_no_point_and_stay_inside_the_axes(points):
    # Boxes from matplotlib's renderer, as drawn: what a reader sees, not what the placer
    # assumed. (adjustText 1.4.0 in its place covers 20 points and overlaps a pair of
    # labels on the committed plot: docs/architecture.md, "Libraries we chose not to use".)
    from matplotlib.text import Text

    from convbert_edge.report.machine import MachineInfo
    from convbert_edge.report.run import Report, ReportOptions
    from convbert_edge.report.write import figure

    rows = []
    for k, (label, family, median, score) in enumerate(points):
        row = _row(f"variant-{k}", family, "int8", median)
        row.label, row.score = label, score
        rows.append(row)
    machine = MachineInfo("Test CPU", 2, 2, [])
    report = Report(machine, ReportOptions(threads=(1, 2)), [_section(rows)], 1.0, "out")
    fig = figure(report)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    frame = ax.get_window_extent(renderer)

    def box(b):
        return (b.x0, b.y0, b.x1, b.y1)

    # Text's own extent: an Annotation's would include its leader line
    labels = [box(Text.get_window_extent(t, renderer)) for t in ax.texts]
    # one scatter call per point (the legend's swatches are empty ones)
    marks = [box(c.get_window_extent(renderer)) for c in ax.collections if len(c.get_offsets())]
    assert len(labels) == len(marks) == len(rows)
    for i, a in enumerate(labels):
        assert frame.x0 <= a[0] and a[2] <= frame.x1 and frame.y0 <= a[1] and a[3] <= frame.y1
        for j, b in enumerate(labels[i + 1 :], i + 1):
            assert not _overlap(a, b), (points[i][0], points[j][0])
        for j, m in enumerate(marks):
            assert not _overlap(a, m), (points[i][0], "covers the point of", points[j][0])


def test_the_integer_only_and_executorch_verdicts_hold_them_near_the_fastest_int8():
    rows = [
        _row("tflite-int8-linear", "ours", "int8", 2.0),
        _row("tflite-int8", "ours", "int8", 3.9),
        _row("executorch-int8", "ours", "int8", 2.3, runtime="executorch"),
    ]
    rows[1].agreement = 0.99
    ratios = {r.name: r for r in acceptance_ratios(_section(rows))}
    integer = ratios["integer_only_vs_fastest"]
    assert (integer.ours, integer.reference) == ("tflite-int8", "tflite-int8-linear")
    assert integer.value == pytest.approx(1.95) and integer.verdict == "PASS"
    assert integer.needed == "≤2x"
    executorch = ratios["executorch_vs_fastest"]
    assert executorch.value == pytest.approx(1.15) and executorch.verdict == "MISS"
    # The time limit alone does not pass an integer-only model that disagrees with fp32,
    # and a slower one misses on time.
    rows[1].agreement = 0.98
    integer = {r.name: r for r in acceptance_ratios(_section(rows))}["integer_only_vs_fastest"]
    assert integer.verdict == "MISS" and "98.0%" in integer.note
    rows[1].agreement, rows[1].latency[2] = 0.99, LatencyStats.of([4.2])
    integer = {r.name: r for r in acceptance_ratios(_section(rows))}["integer_only_vs_fastest"]
    assert integer.value == pytest.approx(2.1) and integer.verdict == "MISS"


def _gemm_limit(runtime: str, gops: float) -> GemmLimit:
    """A GEMM limit of ``gops`` on the (128, 256, 1024) probe (eight layers)."""
    probe_gop = 2 * 128 * 256 * 1024 * 8 / 1e9
    return GemmLimit(runtime, (128, 256, 1024), 2, LatencyStats.of([probe_gop / gops * 1e3]))


def test_a_speed_line_above_the_cpus_int8_gemm_ceiling_says_it_is_out_of_reach():
    # An AVX2 CPU without VNNI (measured 2026-12-07, docs/cpus.md): int8 GEMMs run at
    # fp32 speed, so the model's int8 GEMMs alone take about half of eager fp32's time.
    rows = [
        _row("transformers-eager", "baseline", "fp32", 100.0, None, "torch"),
        _row("tflite-int8-linear", "ours", "int8", 40.0),
        _row("peer-litert-torch-int8", "peer", "int8", 30.0),
        _row("executorch-int8", "ours", "int8", 42.0, runtime="executorch"),
    ]
    section = _section(rows)  # 2.44 GFLOP a call
    unmeasured = {r.name: r for r in acceptance_ratios(section)}
    assert all(r.ceiling is None for r in unmeasured.values())
    section.ratios = list(unmeasured.values())
    assert "ceiling" not in ratio_table(section)  # quick mode: no GEMM limit, no column

    section.gemm = {2: {"tflite": _gemm_limit("tflite", 100.0)}}  # 24.4 ms of GEMMs
    ratios = {r.name: r for r in acceptance_ratios(section)}
    eager = ratios["vs_transformers_eager"]
    assert eager.value == pytest.approx(2.5) and eager.verdict == "MISS"
    assert eager.ceiling == pytest.approx(100.0 / 24.4)
    assert "out of reach on this CPU" in eager.note and "24.40 ms" in eager.note
    assert "100 GOP/s" in eager.note and eager.note.startswith("within budget")
    peer = ratios["vs_fastest_peer"]
    assert peer.ceiling == pytest.approx(30.0 / 24.4) and "out of reach" in peer.note
    # "at most" lines hold ours near another of ours: no ceiling; and a runtime whose
    # limit was not measured (ExecuTorch here) gets none either
    assert ratios["executorch_vs_fastest"].ceiling is None
    assert ratios["executorch_vs_transformers_lowered"].ceiling is None

    section.ratios = list(ratios.values())
    table = ratio_table(section)
    assert "| ceiling |" in table.splitlines()[0] and "| 4.10x |" in table

    # A CPU with fast int8 GEMMs: the same miss is ours to close, and the note says nothing
    section.gemm = {2: {"tflite": _gemm_limit("tflite", 1000.0)}}  # 2.44 ms of GEMMs
    eager = {r.name: r for r in acceptance_ratios(section)}["vs_transformers_eager"]
    assert eager.ceiling == pytest.approx(100.0 / 2.44) and eager.verdict == "MISS"
    assert "out of reach" not in eager.note
