"""Opening a .tflite with LiteRT: the one place that knows where the interpreter lives.

    runner = litert_runner("model.tflite", num_threads=2)   # or the model's bytes
    outputs = runner(input_ids=ids, attention_mask=mask, token_type_ids=types)
    interpreter = litert_interpreter(model_bytes)           # tensor details, invoke()

Everything that runs or inspects a .tflite (the Session, the exporters' checks, the
report's GEMM probe) opens it here, so the import path, the fallback and the error a
user sees are the same everywhere. LiteRT is light: no torch, no tensorflow.
"""

from __future__ import annotations

import os

from convbert_edge.errors import ArtifactError


def interpreter_class() -> type:
    """LiteRT's Interpreter class; ArtifactError saying what to install if there is none."""
    # ai_edge_litert, not tflite_runtime: tflite-runtime 2.14 breaks with numpy 2 and
    # cannot run TF 2.21's dynamic-range models (FULLY_CONNECTED v12).
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:  # the older standalone interpreter, where it is what is installed
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise ArtifactError(
                "running a .tflite model needs ai-edge-litert: pip install ai-edge-litert"
            ) from None
    return Interpreter


def _load_error(model: bytes | str | os.PathLike, err: Exception) -> ArtifactError:
    source = f"a .tflite of {len(model)} bytes" if isinstance(model, bytes) else str(model)
    # A model that fails here usually names an op this interpreter does not know.
    return ArtifactError(
        f"{source} could not be loaded by the LiteRT interpreter ({err}); if it names an "
        "op this interpreter lacks, install ai-edge-litert"
    )


def litert_interpreter(model: bytes | str | os.PathLike, num_threads: int | None = None):
    """A LiteRT Interpreter over a .tflite file or its bytes.

    Args:
        model: a path (LiteRT maps the file) or the flatbuffer's bytes.
        num_threads: the interpreter's thread count; None keeps LiteRT's default.

    Raises:
        ArtifactError: no LiteRT interpreter is installed, or it cannot load the model.
    """
    source = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(model)}
    try:
        return interpreter_class()(**source, num_threads=num_threads)
    except (ValueError, RuntimeError) as err:
        raise _load_error(model, err) from None


def litert_runner(model: bytes | str | os.PathLike, num_threads: int | None = None):
    """The model's default signature runner: ``runner(**inputs)`` -> outputs by name.

    Same arguments and errors as ``litert_interpreter``; a model without exactly one
    signature raises ArtifactError too. The runner keeps its interpreter alive.
    """
    interpreter = litert_interpreter(model, num_threads)
    try:
        return interpreter.get_signature_runner()
    except (ValueError, RuntimeError) as err:
        raise _load_error(model, err) from None
