"""Packs ../shared/data/mnist_tiny (28x28 grayscale PNGs of 3s and 7s) into one small binary file
that the example program reads without an image decoder: examples/data/mnist_tiny.bin.

Format (little endian): magic b"KILNMNT1", then for each split (train, valid): uint32 count,
count uint8 labels (0 for "3", 1 for "7"), count*28*28 uint8 pixels (row-major). Files are taken in
sorted name order. Run with Debian's python3 (python3-pil).
"""
import os
import struct
import sys

from PIL import Image

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist_tiny")
out = os.path.join(os.path.dirname(__file__), "..", "examples", "data", "mnist_tiny.bin")
with open(out, "wb") as f:
    f.write(b"KILNMNT1")
    for split in ("train", "valid"):
        items = []
        for label, cls in enumerate(("3", "7")):
            d = os.path.join(root, split, cls)
            items += [(os.path.join(d, n), label) for n in sorted(os.listdir(d))]
        f.write(struct.pack("<I", len(items)))
        f.write(bytes(label for _, label in items))
        for path, _ in items:
            im = Image.open(path).convert("L")
            assert im.size == (28, 28), path
            f.write(im.tobytes())
        print(split, len(items))
