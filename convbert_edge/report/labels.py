"""Where to put point labels on the report's plot so that they can all be read.

A greedy placer in display pixels. Points are taken left to right; each label takes the
first candidate place around its point (nearest ring first, starting on the side of the
point with fewer neighbours in its row) that costs nothing: inside the axes, covering no
label or point, crossed by no line and crossing nothing with its own leader line, and
clearly nearer its own point than any other. If no place is free it takes the cheapest,
and once every label is placed, the costly ones are placed again (up to REPLACE_PASSES
times) against all the others. Pure geometry, so it is tested without drawing.
"""

from __future__ import annotations

from dataclasses import dataclass

Box = tuple[float, float, float, float]  # (x0, y0, x1, y1), display pixels, y up
Segment = tuple[tuple[float, float], tuple[float, float]]

# Ring radii (pixels) and directions tried for each label, nearest and rightmost first.
RADII = (6.0, 16.0, 28.0, 42.0, 60.0, 80.0)
DIRECTIONS = ((1, 0), (1, 1), (1, -1), (0, 1), (0, -1), (-1, 0), (-1, 1), (-1, -1))
POINT_HALF = 5.0  # a marker's half-size in pixels
REPLACE_PASSES = 3
NEAR_PX, ROW_PX = 150.0, 30.0  # what counts as a neighbour when choosing a side
LEADER_STEPS = 12  # least samples along a line when testing it against boxes


@dataclass(frozen=True)
class Placement:
    """A label's box and whether it needs a leader line back to its point."""

    box: Box
    leader: bool

    @property
    def corner(self) -> tuple[float, float]:
        """Lower-left corner of the label, in display pixels."""
        return self.box[0], self.box[1]


def _overlap_area(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _inside(box: Box, bounds: Box) -> bool:
    return (
        box[0] >= bounds[0] and box[1] >= bounds[1] and box[2] <= bounds[2] and box[3] <= bounds[3]
    )


def _segment_hits(p: tuple[float, float], q: tuple[float, float], box: Box) -> bool:
    steps = max(LEADER_STEPS, int(abs(q[0] - p[0]) + abs(q[1] - p[1])) // 4)  # every ~4 px
    for k in range(1, steps):
        t = k / steps
        x, y = p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])
        if box[0] <= x <= box[2] and box[1] <= y <= box[3]:
            return True
    return False


def _candidate(point: tuple[float, float], size: tuple[float, float], r: float, d) -> Box:
    (x, y), (w, h) = point, size
    # the box's edge nearest the point sits r pixels away in direction d
    x0 = x + r if d[0] > 0 else x - r - w if d[0] < 0 else x - w / 2
    y0 = y + r if d[1] > 0 else y - r - h if d[1] < 0 else y - h / 2
    return (x0, y0, x0 + w, y0 + h)


def _nearest_edge(point: tuple[float, float], box: Box) -> tuple[float, float]:
    return min(max(point[0], box[0]), box[2]), min(max(point[1], box[1]), box[3])


def _tie(p: tuple[float, float], q: tuple[float, float]) -> bool:
    return abs(p[0] - q[0]) <= 1 and abs(p[1] - q[1]) <= 1


# What a candidate place costs; the first place that costs nothing wins, else the cheapest.
COVER_WEIGHT = 10.0  # per pixel² of another label or a point covered
CROSSING = 300.0  # a line through the label, or its own line through a label or point
AMBIGUOUS = 200.0  # the label sits nearer another point than its own, or not clearly farther
CLEAR_MARGIN = 4.0  # pixels by which the own point must be the nearer
OUTSIDE = 1e6  # the label leaves the axes


def _distance(point: tuple[float, float], box: Box) -> float:
    return max(box[0] - point[0], point[0] - box[2], box[1] - point[1], point[1] - box[3], 0.0)


class _Layout:
    """The labels placed so far and everything a label must keep clear of."""

    def __init__(self, points, sizes, bounds: Box, lines) -> None:
        self.points, self.sizes, self.bounds = points, sizes, bounds
        self.marks = [
            (x - POINT_HALF, y - POINT_HALF, x + POINT_HALF, y + POINT_HALF) for x, y in points
        ]
        self.fixed: list[Segment] = list(lines)
        self.placed: dict[int, Placement] = {}

    def _leader(self, i: int, placement: Placement) -> Segment:
        return self.points[i], _nearest_edge(self.points[i], placement.box)

    def cost(self, i: int, box: Box, leader: bool) -> float:
        """What putting label i at ``box`` costs, given every other label placed."""
        own = self.points[i]
        boxes = [p.box for j, p in self.placed.items() if j != i]
        lines = self.fixed + [
            self._leader(j, p) for j, p in self.placed.items() if j != i and p.leader
        ]
        # a tie (two variants at one point) shares its mark; every other mark is an obstacle
        others = [m for p, m in zip(self.points, self.marks, strict=True) if not _tie(p, own)]
        cost = COVER_WEIGHT * sum(_overlap_area(box, b) for b in boxes + others)
        cost += CROSSING * sum(_segment_hits(a, b, box) for a, b in lines)
        if leader:
            end = _nearest_edge(own, box)
            cost += CROSSING * sum(_segment_hits(own, end, b) for b in boxes + others)
        near = min((_distance(p, box) for p in self.points if not _tie(p, own)), default=None)
        if near is not None and near < _distance(own, box) + CLEAR_MARGIN:
            cost += AMBIGUOUS
        if not _inside(box, self.bounds):
            cost += OUTSIDE
        return cost

    def _freer_side(self, i: int) -> int:
        """+1 if label i should try the right of its point first, -1 for the left: the
        side with fewer points nearby in its row (so a cluster's labels spread apart)."""
        x, y = self.points[i]
        near = [px - x for px, py in self.points if abs(py - y) < ROW_PX and abs(px - x) < NEAR_PX]
        right, left = sum(d > 1 for d in near), sum(d < -1 for d in near)
        return -1 if right > left else 1

    def place(self, i: int) -> float:
        """Put label i at its cheapest place (the first free one, nearest ring first)."""
        best: tuple[float, Placement] | None = None
        side = self._freer_side(i)
        for ring, r in enumerate(RADII):
            for dx, dy in DIRECTIONS:
                d = (dx * side, dy)
                candidate = Placement(_candidate(self.points[i], self.sizes[i], r, d), ring > 0)
                cost = self.cost(i, candidate.box, candidate.leader)
                if best is None or cost < best[0]:
                    best = (cost, candidate)
                if cost == 0:
                    break
            if best[0] == 0:
                break
        self.placed[i] = best[1]
        return best[0]


def place_labels(
    points: list[tuple[float, float]],
    sizes: list[tuple[float, float]],
    bounds: Box,
    lines: list[Segment] = (),
    passes: int = REPLACE_PASSES,
) -> list[Placement]:
    """One placement per point, in the order given.

    Args:
        points: each label's point, display pixels.
        sizes: each label's (width, height), display pixels.
        bounds: the axes' box; labels stay inside it when they can.
        lines: segments already drawn (such as the Pareto front) that labels avoid.
        passes: rounds of re-placing each label that still costs something, now that
            the labels after it are known too.
    """
    layout = _Layout(points, sizes, bounds, lines)
    # left to right, so crowded points on the left take their near places first
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    costs = {i: layout.place(i) for i in order}
    for _ in range(passes):
        # the labels placed after a costly one are known now; its current place is among
        # the candidates, so re-placing it never makes it costlier
        costly = [i for i in order if costs[i] > 0]
        if not costly:
            break
        for i in costly:
            costs[i] = layout.place(i)
        costs = {i: layout.cost(i, p.box, p.leader) for i, p in layout.placed.items()}
    return [layout.placed[i] for i in range(len(points))]
