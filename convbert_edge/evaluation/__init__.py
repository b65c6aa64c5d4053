"""Task accuracy of anything that runs a model call: artifacts, eager models, peers.

Above the runtime and the model stacks: it scores held-out splits of the training data
sets with the training objectives' metrics, so it imports torch (the runtime must not).
The exporters use it to choose recipes on dev data (--max-accuracy-drop, the QAT check)
and the report to score every variant on the test split.
"""

from .scoring import EvalResult, EvalSet, Run, agreement, eager_runner, eval_set, evaluate

__all__ = ["EvalResult", "EvalSet", "Run", "agreement", "eager_runner", "eval_set", "evaluate"]
