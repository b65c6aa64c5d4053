"""A .tflite read back from its flatbuffer: the ops it declares and their input types.

Below both converters (tflite.py and tflite_calibrated.py use it), so that tests and the
manifest speak of what is really in the file, not of what the converter was asked for.
"""

from __future__ import annotations

from collections import Counter

# Ops whose arithmetic the full-int8 recipe must run in int8.
INT8_COMPUTE_OPS = ("FULLY_CONNECTED", "BATCH_MATMUL", "CONV_2D", "DEPTHWISE_CONV_2D")


def op_report(model: bytes) -> Counter:
    """Counter of builtin op names in the model's main subgraph."""
    return Counter(name for name, _ in op_details(model))


def op_details(model: bytes) -> list[tuple[str, list[str]]]:
    """(op name, [numpy dtype name of each input tensor]) for every op, from the flatbuffer."""
    from ai_edge_litert import schema_py_generated as schema

    m = schema.ModelT.InitFromPackedBuf(model, 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    types = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    out = []
    for graph in m.subgraphs:
        for op in graph.operators:
            code = m.operatorCodes[op.opcodeIndex]
            builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
            name = names.get(builtin, str(builtin))
            if name == "CUSTOM":  # Flex ops are custom ops named Flex<TF op>
                name = "CUSTOM:" + (code.customCode.decode() if code.customCode else "")
            dtypes = [types[graph.tensors[i].type].lower() for i in op.inputs if i >= 0]
            out.append((name, dtypes))
    return out


def float_compute_ops(model: bytes) -> list[dict[str, str]]:
    """Compute ops of an int8 model that still take float inputs, each with the reason."""
    left = Counter(
        name
        for name, dtypes in op_details(model)
        if name in INT8_COMPUTE_OPS and dtypes and dtypes[0] == "float32"
    )
    return [
        {
            "op": f"{name} x{n}",
            "reason": "the converter kept it in float (no int8 kernel for its inputs)",
        }
        for name, n in sorted(left.items())
    ]
