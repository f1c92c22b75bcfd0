"""Checks a safetensors file written by kiln's test (tests/nn/test_safetensors.cpp, KilnFileReadsInTorch).

Usage: /usr/bin/python3 tools/golden/check_kiln_file.py FILE
The file holds, in this order, tensors named after their dtype whose values are arange(numel) cast to
that dtype (bool: arange % 2), shaped as EXPECTED below, plus metadata {"producer": "kiln"}. Exits 0 when
every name, dtype, shape, value and the order match, 1 with a message otherwise.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

from common import read_safetensors  # noqa: E402

EXPECTED = [
    ("f32", torch.float32, [2, 3]), ("f64", torch.float64, [4]), ("f16", torch.float16, [3, 1]),
    ("bf16", torch.bfloat16, [5]), ("i64", torch.int64, [2, 2]), ("i32", torch.int32, [3]),
    ("u8", torch.uint8, [7]), ("bool", torch.bool, [2, 3]), ("scalar", torch.float32, []),
    ("empty", torch.float32, [0, 3]), ("transposed", torch.float32, [3, 2]),
]


def expected_values(name, dtype, shape):
    n = 1
    for s in shape:
        n *= s
    if name == "transposed":  # kiln saved arange(6).view(2, 3).t(): must arrive contiguous, same values
        return torch.arange(6, dtype=torch.float64).view(2, 3).t().to(dtype)
    v = torch.arange(n, dtype=torch.float64)
    if dtype == torch.bool:
        v = torch.remainder(v, 2)
    return v.reshape(shape).to(dtype)


def main():
    tensors, metadata = read_safetensors(sys.argv[1])
    errors = []
    if metadata != {"producer": "kiln"}:
        errors.append("metadata %r" % (metadata,))
    names = [n for n, _ in tensors]
    if names != [n for n, _, _ in EXPECTED]:
        errors.append("names/order %r" % (names,))
    got = dict(tensors)
    for name, dtype, shape in EXPECTED:
        t = got.get(name)
        if t is None:
            continue
        if t.dtype != dtype or list(t.shape) != shape:
            errors.append("%s: %s %s, expected %s %s" % (name, t.dtype, list(t.shape), dtype, shape))
        elif not torch.equal(t, expected_values(name, dtype, shape)):
            errors.append("%s: values %s" % (name, t.flatten().tolist()))
    if errors:
        print("check_kiln_file: " + "; ".join(errors))
        return 1
    print("check_kiln_file: ok, %d tensors" % len(tensors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
