"""A tiny ONNX image classifier written byte by byte, for the learned-detector tests.

Why by hand: Rempart ships no model (none with weights inside a package under a permissive
licence was found) and OpenCV reads ONNX but cannot write it, so the tests build the
protobuf themselves with a few lines of varint / length-delimited encoding instead of pinning
the `onnx` package. The model is a deterministic function of the picture, so a test knows
which photos score high:

    input [1, 3, H, W] -> GlobalAveragePool -> Flatten -> MatMul W -> Add B -> [1, 2]

with W = [[-1/3, 1/3]] * 3 and B = [1, 0]: output[0] = 1 - m and output[1] = m, where m is the
mean of the three channels' means (the picture's mean brightness when the pixels are scaled
to 0..1 and mean 0, std 1). Output index 1 is "generated".

Field numbers are those of onnx.proto (ModelProto, GraphProto, NodeProto, TensorProto,
ValueInfoProto, TypeProto, TensorShapeProto, OperatorSetIdProto).
"""

from __future__ import annotations

import struct

FLOAT = 1  # TensorProto.DataType.FLOAT
ATTR_INT = 2  # AttributeProto.AttributeType.INT


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _int(field: int, value: int) -> bytes:
    return _key(field, 0) + _varint(value)


def _bytes(field: int, value: bytes) -> bytes:
    return _key(field, 2) + _varint(len(value)) + value


def _str(field: int, value: str) -> bytes:
    return _bytes(field, value.encode())


def _tensor(name: str, dims: list[int], values: list[float]) -> bytes:
    """A TensorProto of float32 values, stored as raw little-endian bytes."""
    raw = struct.pack(f"<{len(values)}f", *values)
    return (
        b"".join(_int(1, d) for d in dims)  # dims
        + _int(2, FLOAT)  # data_type
        + _str(8, name)  # name
        + _bytes(9, raw)  # raw_data
    )


def _value_info(name: str, dims: list[int]) -> bytes:
    shape = b"".join(_bytes(1, _int(1, d)) for d in dims)  # TensorShapeProto.dim.dim_value
    tensor_type = _int(1, FLOAT) + _bytes(2, shape)  # TypeProto.Tensor
    return _str(1, name) + _bytes(2, _bytes(1, tensor_type))  # ValueInfoProto


def _node(op: str, inputs: list[str], outputs: list[str], attrs: bytes = b"") -> bytes:
    return (
        b"".join(_str(1, i) for i in inputs)
        + b"".join(_str(2, o) for o in outputs)
        + _str(3, f"{op.lower()}_0")
        + _str(4, op)
        + attrs
    )


def _int_attr(name: str, value: int) -> bytes:
    return _bytes(5, _str(1, name) + _int(3, value) + _int(20, ATTR_INT))


def brightness_model(size: int = 32, *, opset: int = 13) -> bytes:
    """The serialized ModelProto: a [1, 3, size, size] input named "input", a [1, 2] output
    named "scores" whose index 1 is the picture's mean brightness."""
    third = 1.0 / 3.0
    nodes = [
        _node("GlobalAveragePool", ["input"], ["pooled"]),
        _node("Flatten", ["pooled"], ["flat"], _int_attr("axis", 1)),
        _node("MatMul", ["flat", "W"], ["mixed"]),
        _node("Add", ["mixed", "B"], ["scores"]),
    ]
    graph = (
        b"".join(_bytes(1, n) for n in nodes)
        + _str(2, "tiny_brightness")
        + _bytes(5, _tensor("W", [3, 2], [-third, third] * 3))
        + _bytes(5, _tensor("B", [2], [1.0, 0.0]))
        + _bytes(11, _value_info("input", [1, 3, size, size]))
        + _bytes(12, _value_info("scores", [1, 2]))
    )
    return (
        _int(1, 8)  # ir_version
        + _str(2, "rempart-tests")  # producer_name
        + _bytes(7, graph)
        + _bytes(8, _str(1, "") + _int(2, opset))  # opset_import
    )
