"""Real artifacts of a model small enough to build in a second or two, for each runtime.

The model is the first step of ConvBERT and no more: word and token-type embedding
lookups, masked, summed over the sequence -> "logits" (batch, 2). It gathers by id, so a
runtime fed an id outside the table shows its own behaviour (wrap, error, garbage),
which is what the input checks of Session.run must stand in front of.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from convbert_edge.runtime.manifest import MANIFEST_NAME, Manifest, TensorSpec, sha256_file
from convbert_edge.targets import MODEL_FILES, Target
from convbert_edge.tasks import INPUT_NAMES

VOCAB = 50
TYPES = 2
SEQ = 16
WIDTH = 2

_rng = np.random.default_rng(0)
WORDS = _rng.normal(size=(VOCAB, WIDTH)).astype(np.float32)  # (v, w)
TYPE_ROWS = _rng.normal(size=(TYPES, WIDTH)).astype(np.float32)  # (t, w)


def reference(input_ids, attention_mask, token_type_ids) -> np.ndarray:
    """What every tiny artifact computes, in numpy: (b, s) ids -> (b, w) logits."""
    rows = WORDS[input_ids] + TYPE_ROWS[token_type_ids]  # (b, s, w)
    return (rows * attention_mask[..., None].astype(np.float32)).sum(axis=1)


def good_inputs(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    mask = np.ones((1, SEQ), np.int32)
    mask[0, SEQ - 3 :] = 0
    return {
        "input_ids": rng.integers(0, VOCAB, (1, SEQ)).astype(np.int32),
        "attention_mask": mask,
        "token_type_ids": (np.arange(SEQ) >= SEQ // 2).astype(np.int32).reshape(1, SEQ).copy(),
    }


def _onnx_bytes() -> bytes:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    ints = [helper.make_tensor_value_info(n, TensorProto.INT32, [1, SEQ]) for n in INPUT_NAMES]
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, WIDTH])
    nodes = [
        helper.make_node("Gather", ["words", "input_ids"], ["w"]),  # (1, s, w)
        helper.make_node("Gather", ["types", "token_type_ids"], ["t"]),
        helper.make_node("Add", ["w", "t"], ["e"]),
        helper.make_node("Cast", ["attention_mask"], ["m"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["m", "last"], ["m3"]),  # (1, s, 1)
        helper.make_node("Mul", ["e", "m3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "seq_axis"], ["logits"], keepdims=0),
    ]
    inits = [
        numpy_helper.from_array(WORDS, "words"),
        numpy_helper.from_array(TYPE_ROWS, "types"),
        numpy_helper.from_array(np.array([-1], np.int64), "last"),
        numpy_helper.from_array(np.array([1], np.int64), "seq_axis"),
    ]
    graph = helper.make_graph(nodes, "tiny", ints, [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _tflite_bytes(tmp: Path) -> bytes:
    import tensorflow as tf

    words, types = tf.constant(WORDS), tf.constant(TYPE_ROWS)
    spec = [tf.TensorSpec((1, SEQ), tf.int32, name=n) for n in INPUT_NAMES]

    class Tiny(tf.Module):
        @tf.function(input_signature=spec)
        def serve(self, input_ids, attention_mask, token_type_ids):
            e = tf.gather(words, input_ids) + tf.gather(types, token_type_ids)  # (1, s, w)
            m = tf.cast(attention_mask, tf.float32)[..., None]
            return {"logits": tf.reduce_sum(e * m, axis=1)}

    module = Tiny()
    tf.saved_model.save(module, str(tmp), signatures={"serving_default": module.serve})
    return tf.lite.TFLiteConverter.from_saved_model(str(tmp)).convert()


def _pte_bytes() -> bytes:
    import torch
    from executorch.exir import to_edge

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.words = torch.nn.Embedding.from_pretrained(torch.from_numpy(WORDS))
            self.types = torch.nn.Embedding.from_pretrained(torch.from_numpy(TYPE_ROWS))

        def forward(self, input_ids, attention_mask, token_type_ids):
            e = self.words(input_ids) + self.types(token_type_ids)  # (1, s, w)
            m = attention_mask.to(torch.float32).unsqueeze(1)  # (1, 1, s)
            # A matmul rather than multiply-and-sum: the broadcast mask's zero stride is
            # something ExecuTorch's memory planning refuses.
            return torch.bmm(m, e).squeeze(1)  # (1, w)

    example = tuple(torch.from_numpy(good_inputs()[n]) for n in INPUT_NAMES)
    program = torch.export.export(Tiny().eval(), example)
    return to_edge(program).to_executorch().buffer


def make_tiny_artifact(
    directory: Path, target: str, vocab_size: int | None = VOCAB, type_vocab_size=TYPES
) -> Path:
    """An fp32 artifact of the tiny model for ``target`` (tflite, executorch or onnx).

    vocab_size / type_vocab_size go into the manifest (None: an artifact from before
    they were recorded).
    """
    target_enum = Target(target)
    directory.mkdir(parents=True, exist_ok=True)
    model_file = directory / MODEL_FILES[target_enum]
    if target_enum is Target.ONNX:
        data = _onnx_bytes()
    elif target_enum is Target.TFLITE:
        data = _tflite_bytes(directory.parent / f".{directory.name}.savedmodel")
    else:
        data = _pte_bytes()
    model_file.write_bytes(data)
    manifest = Manifest(
        task="sequence-classification",
        target=target_enum.value,
        quantization="fp32",
        model_file=model_file.name,
        model_sha256=sha256_file(model_file),
        seq_len=SEQ,
        batch=1,
        inputs=[TensorSpec(n, "int32", (1, SEQ)) for n in INPUT_NAMES],
        outputs=[TensorSpec("logits", "float32", (1, WIDTH))],
        labels=["a", "b"],
        vocab_size=vocab_size,
        type_vocab_size=type_vocab_size,
    )
    (directory / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    return directory
