"""Recipe selection for ``--max-accuracy-drop``: measure candidates on labelled dev data.

The pipeline's stack simulates each candidate (TFLite: calibrate once, quantize per
candidate, run in LiteRT; ExecuTorch: the PT2E graph before lowering, run eagerly), and
``quantize.mixed_precision.choose_recipe`` walks from all-int8 towards fp32. Dev data,
not the test split: the held-out test split stays unseen by every choice the toolkit
makes.
"""

from __future__ import annotations

from convbert_edge.errors import ConfigError, ExportError
from convbert_edge.quantize.mixed_precision import Choice, Measured, choose_recipe, layer_units
from convbert_edge.quantize.recipes import Recipe
from convbert_edge.runtime.evaluate import agreement, eval_set, evaluate
from convbert_edge.targets import Target
from convbert_edge.tasks import Task

from .inputs import DEFAULT_TEXTS


def choose_within_budget(
    stack, target: Target, base: Recipe, calibration, tokenizer, num_layers: int, options, log
) -> Choice:
    """The fastest recipe within ``options.max_accuracy_drop`` points, and its record."""
    dataset = options.calibration or DEFAULT_TEXTS
    try:
        dev = eval_set(
            dataset, tokenizer, options.seq_len, split="dev", batch=options.batch,
            limit=options.selection_samples, cache_dir=options.cache_dir,
        )  # fmt: skip
    except ConfigError as err:
        raise ExportError(
            f"--max-accuracy-drop scores recipes on a labelled data set; {err}"
        ) from None
    reference = evaluate(stack.run, dev)
    log(f"      fp32 on {dev.name} ({len(dev)} examples): {dev.metric} {reference.score:.4f}")

    def measure(recipe: Recipe) -> Measured:
        scored = evaluate(stack.simulate(recipe, calibration), dev)
        return Measured(
            recipe, 100 * (reference.score - scored.score), agreement(scored, reference)
        )

    units = layer_units(num_layers)
    if stack.task is Task.BASE:  # the base model has no head
        units = units[:-1]
    choice = choose_recipe(base, units, measure, options.max_accuracy_drop, log)
    log(f"      {choice.summary()[-1]}")
    return choice
