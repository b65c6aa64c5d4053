"""tasks.INPUT_NAMES is the only spelling of the model inputs' order in library code."""

from __future__ import annotations

import re
from pathlib import Path

from convbert_edge.tasks import INPUT_NAMES

REPO = Path(__file__).resolve().parents[1]
LIBRARY = ("convbert_edge", "runtime", "exporters", "quantize", "benchmarks")


def test_the_order_is_written_once():
    assert INPUT_NAMES == ("input_ids", "attention_mask", "token_type_ids")
    # The three names one after another, as a tuple/list literal or a key sequence
    # (a dict of name -> value is a mapping, not the order, and may name them).
    listed = re.compile(r'"input_ids",\s*"attention_mask",\s*"token_type_ids"')
    found = [
        str(path.relative_to(REPO))
        for folder in LIBRARY
        for path in sorted((REPO / folder).rglob("*.py"))
        if path != REPO / "convbert_edge" / "tasks.py"
        and listed.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []
