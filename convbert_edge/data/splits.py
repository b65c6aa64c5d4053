"""The one way data sets are split: by a seeded hash of each example's id.

Sorting by sha256(f"{seed}:{id}") gives the same split whatever order the examples
arrive in and whatever numpy's random generator does, so a split is fixed by its seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from convbert_edge.data.fetch import DataError


class _HasId(Protocol):
    id: Any


T = TypeVar("T", bound=_HasId)


def hashed_split(items: Sequence[T], seed: int, fractions: Sequence[float]) -> list[list[T]]:
    """Cut ``items`` into len(fractions) parts after a seeded, order-independent shuffle.

    Every part but the last gets round(len(items) * fraction) items; the last the rest.
    """
    if len(fractions) < 2 or abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) <= 0:
        raise DataError(
            f"fractions must be two or more positive numbers summing to 1, got {tuple(fractions)}"
        )
    order = sorted(items, key=lambda e: hashlib.sha256(f"{seed}:{e.id}".encode()).hexdigest())
    parts, start = [], 0
    for fraction in fractions[:-1]:
        end = start + round(len(order) * fraction)
        parts.append(order[start:end])
        start = end
    parts.append(order[start:])
    return parts
