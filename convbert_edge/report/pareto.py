"""The Pareto front of accuracy against latency: the variants no other variant beats on both.

front = pareto_front({"a": (10.0, 0.90), "b": (5.0, 0.88), "c": (12.0, 0.85)})
# {"a", "b"}: c is slower than a and less accurate
"""

from __future__ import annotations


def pareto_front(points: dict[str, tuple[float, float]]) -> set[str]:
    """Names of the points (latency, score) not dominated by another point.

    A point is dominated when another is at least as fast and at least as accurate, and
    strictly better in one of the two. Lower latency and higher score are better.
    """
    front = set()
    for name, (latency, score) in points.items():
        dominated = any(
            other != name and lat <= latency and sc >= score and (lat < latency or sc > score)
            for other, (lat, sc) in points.items()
        )
        if not dominated:
            front.add(name)
    return front
