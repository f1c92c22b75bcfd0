"""Writes the fuzzers' seed corpora: tests/fuzz/corpus/image/ (tiny PNG, JPEG and BMP files in
the variants stb decodes, plus a few broken ones) and tests/fuzz/corpus/safetensors/ (small valid
files and a few broken ones). Run once with Debian's python3 (python3-pil); the files are committed.
Inputs that once crashed a target are added by hand as crash-*.
"""
import io
import json
import os
import struct
import zlib

from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))


def write(kind, name, data):
    d = os.path.join(here, "corpus", kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def encode(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


def image(mode, w=5, h=4):
    im = Image.new("RGB", (w, h))
    im.putdata([((x * 50) % 256, (y * 60) % 256, (x * y * 30) % 256) for y in range(h) for x in range(w)])
    return im.convert(mode)


# ---- images
write("image", "grey8.png", encode(image("L"), "PNG"))
write("image", "rgb8.png", encode(image("RGB"), "PNG"))
write("image", "rgba8.png", encode(image("RGBA"), "PNG"))
write("image", "grey_alpha.png", encode(image("LA"), "PNG"))
write("image", "bilevel.png", encode(image("1"), "PNG"))
write("image", "palette.png", encode(image("P"), "PNG"))
write("image", "palette_trns.png", encode(image("P"), "PNG", transparency=0))
write("image", "grey16.png", encode(image("L").convert("I"), "PNG"))
write("image", "baseline.jpg", encode(image("RGB", 9, 7), "JPEG", quality=90))
write("image", "grey.jpg", encode(image("L", 9, 7), "JPEG"))
write("image", "progressive.jpg", encode(image("RGB", 17, 9), "JPEG", progressive=True))
write("image", "rgb24.bmp", encode(image("RGB"), "BMP"))
write("image", "palette8.bmp", encode(image("P"), "BMP"))
write("image", "bilevel.bmp", encode(image("1"), "BMP"))
png = encode(image("RGB"), "PNG")
write("image", "broken_truncated.png", png[: len(png) // 2])
bad = bytearray(png)
bad[-9] ^= 0xFF  # IEND CRC
write("image", "broken_crc.png", bytes(bad))
ihdr = struct.pack(">IIBBBBB", 0, 4, 8, 0, 0, 0, 0)
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
write("image", "broken_zero_width.png", png[:8] + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 4)) + chunk(b"IEND", b""))
jpg = encode(image("RGB", 9, 7), "JPEG")
write("image", "broken_truncated.jpg", jpg[: len(jpg) * 2 // 3])
bmp = bytearray(encode(image("RGB"), "BMP"))
bmp[22:26] = struct.pack("<i", -(1 << 30))
write("image", "broken_huge.bmp", bytes(bmp))

# ---- safetensors
def safetensors(entries, data, metadata=None, raw_header=None):
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    header.update(entries)
    h = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


f32 = struct.pack("<3f", 1.0, -2.5, 3.25)
write("safetensors", "one_f32.safetensors",
      safetensors({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}}, f32))
write("safetensors", "mixed.safetensors", safetensors({
    "a": {"dtype": "I64", "shape": [2, 1], "data_offsets": [0, 16]},
    "b": {"dtype": "BF16", "shape": [2], "data_offsets": [16, 20]},
    "c": {"dtype": "BOOL", "shape": [3], "data_offsets": [20, 23]},
    "d": {"dtype": "U8", "shape": [], "data_offsets": [23, 24]},
    "e": {"dtype": "F16", "shape": [0, 4], "data_offsets": [24, 24]},
}, struct.pack("<qq", 7, -1) + b"\x80\x3f\x00\x40" + b"\x01\x00\x01" + b"\x09", metadata={"format": "pt"}))
write("safetensors", "empty.safetensors", safetensors({}, b"", metadata={}))
write("safetensors", "broken_overlap.safetensors", safetensors({
    "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
    "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, f32))
write("safetensors", "broken_json.safetensors", safetensors({}, b"", raw_header=b'{"w": {"dtype": "F32", "sha'))
write("safetensors", "broken_header_length.safetensors", struct.pack("<Q", 1 << 40) + b"{}")
write("safetensors", "broken_dtype.safetensors",
      safetensors({"w": {"dtype": "F8", "shape": [3], "data_offsets": [0, 3]}}, b"abc"))
