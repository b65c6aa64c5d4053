"""The checks every Session.run makes before a runtime sees its inputs.

Runtimes fail differently on bad ids: LiteRT and ONNX Runtime wrap id -1 to the last
embedding row and answer without a word, ExecuTorch stops with "error 0x12", and float
ids are truncated by the cast to int32. So the inputs are checked here, once, for every
runtime: names, then dtypes, then shapes, then value ranges, and the first problem is
raised as an InputError naming the input, the bad value, its position and what is allowed.

Cost: one numpy reduction per input (the max of the ids seen as unsigned), the rules
worked out once per manifest; measured here about 20 us a call for three (1, 128) inputs
(the name and shape checks alone took 1-4 us), against about 2 ms for the default model.
The position of a bad value is looked for only once a range check has failed.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from convbert_edge.errors import ArtifactError, InputError

from .manifest import Manifest, TensorSpec


@dataclass(frozen=True)
class ValueRange:
    """The values one model input may hold: [low, high).

    Args:
        low: the smallest value allowed.
        high: the exclusive upper bound, or the name of the Manifest field that holds it
            (None there, in an artifact written before it was recorded, leaves only the
            dtype's range).
        fix: what the caller should do about a value outside it.
    """

    low: int
    high: int | str
    fix: str


# Model input name -> the values it may hold. Inputs not named here are only held to
# their dtype's range.
VALUE_RANGES: dict[str, ValueRange] = {
    "input_ids": ValueRange(
        0,
        "vocab_size",
        "token ids come from the artifact's own vocabulary: encode text with the tokenizer "
        "files in the artifact directory",
    ),
    "token_type_ids": ValueRange(
        0,
        "type_vocab_size",
        "use 0 for the first segment and 1 for the second (the tokenizer's token_type_ids)",
    ),
    "attention_mask": ValueRange(
        0, 2, "use 1 for a real token and 0 for padding (the tokenizer's attention_mask)"
    ),
}
# The Manifest fields VALUE_RANGES reads.
_BOUND_FIELDS = tuple(sorted({r.high for r in VALUE_RANGES.values() if isinstance(r.high, str)}))


class _InputRule(NamedTuple):
    """Everything one input is checked against, worked out once per manifest."""

    name: str
    dtype: np.dtype
    integer: bool  # an integer input: integer arrays only
    shape: tuple[int, ...]
    low: int | None
    high: int | None  # exclusive
    what: str  # where the range comes from, for the message
    fix: str


def _rule(spec: TensorSpec, bounds: dict[str, int | None]) -> _InputRule:
    try:
        dtype = np.dtype(spec.dtype)
    except TypeError:
        raise ArtifactError(
            f"the manifest gives input {spec.name!r} the dtype {spec.dtype!r}, which numpy "
            "does not know: export the artifact again"
        ) from None
    value_range = VALUE_RANGES.get(spec.name)
    low, high, what, fix = None, None, "", ""
    if value_range is not None:
        low, fix = value_range.low, value_range.fix
        if isinstance(value_range.high, int):
            high, what = value_range.high, "a mask: 0 or 1"
        else:
            high, what = bounds[value_range.high], f"the model's {value_range.high}"
    integer = dtype.kind in "iu"
    if integer:
        # Wider integers are cast to the model's dtype: out of its range they would wrap.
        info = np.iinfo(dtype)
        dtype_low, dtype_high = int(info.min), int(info.max) + 1
        low = dtype_low if low is None else max(low, dtype_low)
        if high is None:
            high = dtype_high
            what = f"the {dtype} range" + (
                f"; this artifact's manifest records no {value_range.high}" if value_range else ""
            )
        else:
            high = min(high, dtype_high)
    return _InputRule(spec.name, dtype, integer, tuple(spec.shape), low, high, what, fix)


@functools.lru_cache(maxsize=64)
def _rules(specs: tuple[TensorSpec, ...], bounds: tuple[tuple[str, int | None], ...]):
    # Cached: working the rules out costs more than checking three (1, 128) inputs.
    return tuple(_rule(spec, dict(bounds)) for spec in specs)


def _manifest_rules(manifest: Manifest) -> tuple[_InputRule, ...]:
    bounds = []
    for name in _BOUND_FIELDS:
        value = getattr(manifest, name, None)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ArtifactError(
                f"the manifest's {name} is {value!r}; it must be a positive integer or null: "
                "export the artifact again"
            )
        bounds.append((name, value))
    try:
        return _rules(tuple(manifest.inputs), tuple(bounds))
    except TypeError:  # a malformed manifest's spec cannot be hashed: work it out uncached
        return tuple(_rule(spec, dict(bounds)) for spec in manifest.inputs)


def _check_dtype(rule: _InputRule, arr: np.ndarray) -> None:
    kind = arr.dtype.kind
    if kind in "iu" or (kind == "f" and not rule.integer):
        return
    hint = ""
    if kind == "f":
        # A float id is refused, never rounded: 3.7 is no token, and a silent cast
        # would turn a caller's bug into a plausible answer.
        hint = "; float ids are not rounded: pass integers (e.g. the tokenizer's int32 arrays)"
    elif kind == "b":
        hint = "; cast a boolean mask with .astype(np.int32)"
    raise InputError(
        f"input {rule.name} has dtype {arr.dtype}; this artifact takes {rule.dtype} "
        f"({'an integer array' if rule.integer else 'a numeric array'}){hint}"
    )


_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _check_range(rule: _InputRule, arr: np.ndarray) -> None:
    low, high = rule.low, rule.high
    if arr.size == 0 or (low is None and high is None):
        return
    if low == 0 and arr.dtype.kind in "iu" and arr.dtype.isnative:
        # Fast path, one reduction: seen as unsigned, a negative id is larger than any
        # bound, so max < high covers both ends.
        unsigned = arr.view(_UNSIGNED[arr.dtype.itemsize])
        if np.maximum.reduce(unsigned, axis=None) < high:
            return
    # Two reductions (the ufuncs themselves: ndarray.min adds a Python layer). NaN
    # fails both comparisons and falls through to the search below.
    lo_ok = low is None or np.minimum.reduce(arr, axis=None) >= low
    hi_ok = high is None or np.maximum.reduce(arr, axis=None) < high
    if lo_ok and hi_ok:
        return
    inside = np.ones(arr.shape, bool)
    if low is not None:
        inside &= arr >= low
    if high is not None:
        inside &= arr < high
    bad = ~inside
    where = tuple(int(i) for i in np.argwhere(bad)[0])
    value = arr[where].item()
    allowed = f"[{'-inf' if low is None else low}, {'inf' if high is None else high})"
    position = ", ".join(map(str, where))
    raise InputError(
        f"input {rule.name}[{position}] is {value!r}, outside {allowed} ({rule.what}); "
        f"{int(bad.sum())} of {arr.size} values are out of range"
        + (f": {rule.fix}" if rule.fix else "")
    )


def check_inputs(manifest: Manifest, inputs: Mapping) -> dict[str, np.ndarray]:
    """The inputs as arrays, after checking names, dtypes, shapes and value ranges.

    Raises:
        InputError: the first input that is missing, unexpected, of a non-integer dtype
            (for integer inputs), of the wrong shape, or holds a value outside its range.
        ArtifactError: a manifest whose input dtypes or bounds make no sense.
    """
    rules = _manifest_rules(manifest)
    if (
        not isinstance(inputs, Mapping)
        or len(inputs) != len(rules)
        or any(r.name not in inputs for r in rules)
    ):
        _refuse_names(rules, inputs)
    arrays = {}
    for rule in rules:
        value = inputs[rule.name]
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as err:  # ragged nested lists, objects numpy refuses
            raise InputError(
                f"input {rule.name} is not an array ({err}); pass a numpy array of shape "
                f"{rule.shape}"
            ) from None
        _check_dtype(rule, arr)
        if arr.shape != rule.shape:
            raise InputError(
                f"input {rule.name} has shape {arr.shape}; this artifact was exported for "
                f"{rule.shape} (static shapes: pad or batch to fit)"
            )
        _check_range(rule, arr)
        arrays[rule.name] = arr
    return arrays


def _refuse_names(rules: tuple[_InputRule, ...], inputs) -> None:
    expected = [r.name for r in rules]
    if not isinstance(inputs, Mapping):
        raise InputError(
            f"inputs must be a dict of input name -> array, got {type(inputs).__name__}; "
            f"the model takes {expected}"
        )
    missing = [n for n in expected if n not in inputs]
    unexpected = [k for k in inputs if k not in expected]
    parts = []
    if missing:
        parts.append(f"missing input(s) {missing}")
    if unexpected:
        parts.append(f"unexpected input(s) {unexpected}")
    raise InputError(f"{' and '.join(parts)}; the model takes exactly {expected}")
