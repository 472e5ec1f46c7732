"""A tiny ONNX classifier written byte by byte (the `onnx` package is not a dependency).

`mean_brightness_model(path)` writes a model whose single output is the mean of its input
(NCHW RGB in [0, 1]): a white image scores 1, a black one 0. Tests plug it in as
`--unsafe_model` to check the user-classifier contract end to end.
"""

from __future__ import annotations


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _value_info(name: str, dims: tuple[int, ...] | None) -> bytes:
    shape = b"".join(_bytes(1, _int(1, d)) for d in dims) if dims else b""
    tensor = _int(1, 1) + (_bytes(2, shape) if dims else b"")  # elem_type FLOAT
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor))


def mean_brightness_model(path: str, side: int = 32, per_channel: bool = False) -> str:
    """Write the model to `path` (input `images` [1, 3, side, side], output `score`).

    `per_channel`: three outputs (the R, G and B means), read as class scores; the last
    ("unsafe") class is then the blue one.
    """
    node = _bytes(1, "images") + _bytes(2, "score") + _bytes(3, "mean") + _bytes(4, "ReduceMean")
    if per_channel:  # attribute axes = [2, 3] (type INTS = 7)
        node += _bytes(5, _bytes(1, "axes") + _int(8, 2) + _int(8, 3) + _int(20, 7))
    graph = (
        _bytes(1, node)
        + _bytes(2, "brightness")
        + _bytes(11, _value_info("images", (1, 3, side, side)))
        + _bytes(12, _value_info("score", None))
    )
    model = _int(1, 7) + _bytes(8, _bytes(1, "") + _int(2, 13)) + _bytes(7, graph)
    with open(path, "wb") as f:
        f.write(model)
    return path
