"""Task score and agreement with our fp32 model for every variant, cached per build.

Scoring a variant runs the whole held-out split through it; the predictions are kept in
``root/accuracy/<variant>.npz`` with the key they were made under (the variant's build
key or checkpoint fingerprint, the data set, seq_len, limit), so a re-run with the same
artifacts scores nothing again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from convbert_edge.evaluation import EvalResult, EvalSet, evaluate

from .runners import Run


def _key_of(spec_key: str, data: EvalSet) -> str:
    h = hashlib.sha256(spec_key.encode())
    for call in data.calls[:8]:
        h.update(call["input_ids"].tobytes())
    h.update(f"{data.name}|{len(data)}|{data.metric}".encode())
    return h.hexdigest()


def scored(
    name: str,
    open_run: Callable[[], Run],
    data: EvalSet,
    cache: Path,
    spec_key: str,
    log: Callable[[str], None] = print,
) -> EvalResult:
    """The EvalResult of one variant, from the cache when its key matches."""
    path = cache / f"{name}.npz"
    key = _key_of(spec_key, data)
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if meta["key"] == key:
                    log(f"      {name}: cached {meta['metric']} {meta['score']:.4f}")
                    return EvalResult(
                        meta["name"],
                        meta["metric"],
                        meta["score"],
                        z["predictions"],
                        z["scored"],
                        meta.get("extra", {}),
                    )
        except (OSError, ValueError, KeyError):
            pass
    result = evaluate(open_run(), data, log=log)
    cache.mkdir(parents=True, exist_ok=True)
    meta = {
        "key": key,
        "name": result.name,
        "metric": result.metric,
        "score": result.score,
        "extra": result.extra,
    }
    partial = path.with_name(path.name + ".partial.npz")  # renamed when complete
    np.savez(partial, meta=json.dumps(meta), predictions=result.predictions, scored=result.scored)
    partial.replace(path)
    log(f"      {name}: {result.metric} {result.score:.4f}")
    return result
