"""Run transformers 4.57.6's TFConvBert* (tf-keras) on a batch of cases; used by keras_helpers.

Usage: python tf_oracle_script.py JOB.json   (run with TF_USE_LEGACY_KERAS=1)

JOB.json is a list of {"dir", "task", "inputs"}; writes JOB.results.json with, per case,
{"outputs": path of an .npz} or {"error": "Type: message"} when the TF reference cannot
load or run that config (an expected outcome for some configs, which the tests name).
"""

import json
import sys
import traceback
from pathlib import Path

import numpy as np

TF_CLASSES = {
    "base": ("TFConvBertModel", ("last_hidden_state",)),
    "masked-lm": ("TFConvBertForMaskedLM", ("logits",)),
    "sequence-classification": ("TFConvBertForSequenceClassification", ("logits",)),
    "multiple-choice": ("TFConvBertForMultipleChoice", ("logits",)),
    "token-classification": ("TFConvBertForTokenClassification", ("logits",)),
    "question-answering": ("TFConvBertForQuestionAnswering", ("start_logits", "end_logits")),
}


def run_case(case: dict, out_path: Path) -> dict:
    from transformers.models.convbert import modeling_tf_convbert

    class_name, names = TF_CLASSES[case["task"]]
    try:
        model = getattr(modeling_tf_convbert, class_name).from_pretrained(case["dir"], from_pt=True)
        with np.load(case["inputs"]) as data:
            inputs = {k: data[k] for k in data.files}
        out = model(inputs, training=False)
        np.savez(out_path, **{name: np.asarray(getattr(out, name)) for name in names})
        return {"outputs": str(out_path)}
    except Exception as err:  # the reference failing on a config is a result to report
        lines = traceback.format_exception_only(type(err), err)
        return {"error": "".join(lines).strip()[-500:]}


def main(job_path: str) -> None:
    job = Path(job_path)
    cases = json.loads(job.read_text())
    results = [
        run_case(case, job.with_name(f"tf_oracle_out_{i}.npz")) for i, case in enumerate(cases)
    ]
    job.with_name(job.stem + ".results.json").write_text(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1])
