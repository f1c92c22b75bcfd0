"""Shared helpers for the golden-fixture scripts.

Run the scripts with Debian's python3 (/usr/bin/python3, which has python3-torch), never a pyenv
one. Each script writes tests/fixtures/<name>.safetensors once; the fixtures are committed and the
C++ tests read them (tests/support/fixtures.h), so the test suite never needs PyTorch.
"""
import json
import os
import struct

import torch

FIXTURE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures")

_DTYPES = {
    torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL",
}


def save(name, tensors):
    """Writes {key: tensor or number} to tests/fixtures/<name>.safetensors (numbers become f64 scalars)."""
    header, blobs, offset = {}, [], 0
    for key in sorted(tensors):
        t = tensors[key]
        if not isinstance(t, torch.Tensor):
            t = torch.tensor(float(t), dtype=torch.float64)
        t = t.detach().contiguous().cpu()
        raw = t.view(torch.uint8).numpy().tobytes() if t.dtype in (torch.bfloat16, torch.float16) and t.numel() \
            else t.numpy().tobytes()
        header[key] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    os.makedirs(FIXTURE_DIR, exist_ok=True)
    path = os.path.join(FIXTURE_DIR, name + ".safetensors")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    print("wrote", os.path.relpath(path), offset, "bytes of data")


_FROM_TAG = {v: k for k, v in _DTYPES.items()}


def read_safetensors(path):
    """Reads a safetensors file by hand (the safetensors package is not installed).

    Returns (tensors, metadata): tensors is a list of (name, torch tensor) in the order of their data
    in the file, metadata a dict of str -> str. Checks offsets against the data size.
    """
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError("%s: header length %d exceeds the file size %d" % (path, n, len(raw)))
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    metadata = header.pop("__metadata__", {}) or {}
    out = []
    for name, e in sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"])):
        begin, end = e["data_offsets"]
        if not 0 <= begin <= end <= len(data):
            raise ValueError("%s: tensor %s has offsets %s outside %d data bytes" % (path, name, e["data_offsets"], len(data)))
        dtype = _FROM_TAG[e["dtype"]]
        shape = list(e["shape"])
        count = 1
        for s in shape:
            count *= s
        if end - begin != count * torch.empty((), dtype=dtype).element_size():
            raise ValueError("%s: tensor %s: %d bytes for shape %s" % (path, name, end - begin, shape))
        buf = bytearray(data[begin:end])
        if count == 0:
            t = torch.empty(shape, dtype=dtype)
        else:
            t = torch.frombuffer(buf, dtype=torch.uint8).view(dtype).reshape(shape).clone()
        out.append((name, t))
    return out, metadata


def save_path(path, tensors, metadata=None):
    """Writes an ordered list of (name, tensor) to `path` in the given order, with optional metadata."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = dict(metadata)
    for key, t in tensors:
        t = t.detach().contiguous().cpu()
        raw = t.view(torch.uint8).numpy().tobytes() if t.numel() and t.dtype in (torch.bfloat16, torch.float16) \
            else t.numpy().tobytes()
        header[key] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    print("wrote", os.path.relpath(path), offset, "bytes of data")
