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
