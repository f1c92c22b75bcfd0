"""Packs ../shared/data/mnist_tiny (28x28 grayscale PNGs of 3s and 7s) into one small binary file
that the example program and the end-to-end test read: examples/data/mnist_tiny.bin. The images
stay the original PNG files; kiln decodes them at load time (data/image_io.h, guarded).

Format (little endian): magic b"KILNMNP1", then for each split (train, valid): uint32 count,
count uint8 labels (0 for "3", 1 for "7"), then for each image a uint32 byte length and the PNG
file's bytes. Files are taken in sorted name order. Run with Debian's python3 (python3-pil, used
only to check that every file is a 28x28 image).
"""
import os
import struct
import sys

from PIL import Image

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist_tiny")
out = os.path.join(os.path.dirname(__file__), "..", "examples", "data", "mnist_tiny.bin")
with open(out, "wb") as f:
    f.write(b"KILNMNP1")
    for split in ("train", "valid"):
        items = []
        for label, cls in enumerate(("3", "7")):
            d = os.path.join(root, split, cls)
            items += [(os.path.join(d, n), label) for n in sorted(os.listdir(d))]
        f.write(struct.pack("<I", len(items)))
        f.write(bytes(label for _, label in items))
        for path, _ in items:
            with Image.open(path) as im:
                assert im.size == (28, 28), path
            with open(path, "rb") as src:
                data = src.read()
            f.write(struct.pack("<I", len(data)))
            f.write(data)
        print(split, len(items))
