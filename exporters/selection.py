"""Recipe selection for ``--max-accuracy-drop``: measure candidates on labelled dev data.

The pipeline's stack simulates each candidate from one ``calibrate`` (TFLite: calibrated
once, quantized per candidate, run in LiteRT; ExecuTorch: the PT2E graph before lowering,
run eagerly), and
``quantize.mixed_precision.choose_recipe`` walks from all-int8 towards fp32. Dev data,
not the test split: the held-out test split stays unseen by every choice the toolkit
makes.

``check_qat`` does the same for ``--qat``: it scores the QAT model against post-training
int8 on the dev split, and the pipeline ships post-training int8 when QAT came out below.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from convbert_edge.errors import ConfigError, ExportError
from convbert_edge.evaluation import agreement, eval_set, evaluate
from convbert_edge.quantize.mixed_precision import Choice, Measured, choose_recipe, layer_units
from convbert_edge.quantize.recipes import Recipe
from convbert_edge.targets import Target
from convbert_edge.tasks import Task

from .inputs import DEFAULT_TEXTS
from .stacks import ModelStack


def choose_within_budget(
    stack: ModelStack,
    target: Target,
    base: Recipe,
    calibration,
    tokenizer,
    num_layers: int,
    options,
    log,
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
    calibrated = stack.calibrate(calibration)  # once: every candidate is quantized from it

    def measure(recipe: Recipe) -> Measured:
        scored = evaluate(stack.simulate(recipe, calibrated), dev)
        return Measured(
            recipe, 100 * (reference.score - scored.score), agreement(scored, reference)
        )

    units = layer_units(num_layers)
    if stack.task is Task.BASE:  # the base model has no head
        units = units[:-1]
    choice = choose_recipe(base, units, measure, options.max_accuracy_drop, log)
    log(f"      {choice.summary()[-1]}")
    return choice


@dataclass(frozen=True)
class QatCheck:
    """QAT's converted model against post-training int8 of the fp32 model with the same
    recipe, on dev data.

    Args:
        qat / ptq: the two models' scores (``metric``) on ``dev``.
        agreement: share of dev predictions on which the two models agree; 1.0 says they
            may be one model under two names (they were, until the stacks stopped
            fine-tuning the fp32 model in place).

    ``shipped`` is "qat" unless QAT scored strictly below post-training int8: a tie
    keeps QAT, whose training objective is agreement with fp32.
    """

    dev: str
    examples: int
    metric: str
    qat: float
    ptq: float
    agreement: float

    @property
    def shipped(self) -> str:
        return "ptq" if self.qat < self.ptq else "qat"

    def summary(self) -> str:
        return (
            f"QAT {self.metric} {self.qat:.4f} vs post-training int8 {self.ptq:.4f} on "
            f"{self.dev}, {self.examples} examples ({100 * self.agreement:.1f}% same "
            "predictions): "
            + (
                "shipping QAT"
                if self.shipped == "qat"
                else "shipping post-training int8 (QAT was below it)"
            )
        )

    def as_dict(self) -> dict:
        return {**asdict(self), "shipped": self.shipped}

    @classmethod
    def from_dict(cls, record: dict) -> QatCheck:
        """The check as_dict wrote (a manifest's ``source.qat_check``) read back."""
        return cls(**{f.name: record[f.name] for f in fields(cls)})


def check_qat(
    stack: ModelStack, trained, recipe: Recipe, calibration, tokenizer, options, log
) -> QatCheck | None:
    """Score ``trained`` (``stack.train_qat``'s result) and post-training int8 of the
    stack's fp32 model (``stack.simulate``: what convert ships for ``recipe``) on the whole
    labelled dev split of ``options.calibration``; None (QAT kept, unchecked) when it has
    no labels.

    The whole split, not ``selection_samples``: QAT and post-training int8 of one model
    differ on a handful of examples (3 of 1,057 on the default model), so a sample would
    decide by chance. The test split stays unseen.
    """
    dataset = options.calibration or DEFAULT_TEXTS
    try:
        dev = eval_set(
            dataset, tokenizer, options.seq_len, split="dev", batch=options.batch,
            cache_dir=options.cache_dir,
        )  # fmt: skip
    except ConfigError as err:
        log(f"      QAT kept unchecked: no labelled dev split to compare it with ({err})")
        return None
    qat = evaluate(stack.qat_run(trained), dev)
    ptq = evaluate(stack.simulate(recipe, stack.calibrate(calibration)), dev)
    check = QatCheck(dev.name, len(dev), dev.metric, qat.score, ptq.score, agreement(qat, ptq))
    log(f"      {check.summary()}")
    return check
