#!/usr/bin/python3
"""make_corpus.py: writes the safetensors seed corpus (valid files and one broken file per
rule the loader enforces) and corpus/EXPECTED (file<TAB>ok|message). Not a test by itself:
tests/lua/test_safetensors.lua checks every message, the fuzzer starts from these files.
Usage: /usr/bin/python3 tests/fuzz/make_corpus.py  (plain Python: json + struct only)."""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")

cases = []  # (name, bytes, expected)


def raw(header, data=b"", length=None, pad=True):
    """A file from header text (bytes), data bytes and an optional lying length."""
    if pad:
        header += b" " * (-len(header) % 8)
    n = len(header) if length is None else length
    return struct.pack("<Q", n) + header + data


def hdr(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def info(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def add(name, blob, expected="ok"):
    cases.append((name, blob, expected))


# ---- valid files ----
f64 = struct.pack("<6d", 1.5, -2.0, 3.25, 0.0, -0.0, 1e300)
add("valid-empty", raw(b"{}"))
add("valid-f64-2x3", raw(hdr({"w": info("F64", [2, 3], 0, 48)}), f64))
add("valid-metadata", raw(hdr({"__metadata__": {"format": "pt", "note": "caf\u00e9"},
                               "b": info("F32", [3], 0, 12)}), struct.pack("<3f", 1, 2, 3)))
add("valid-0d-1d-3d", raw(hdr({"s": info("F64", [], 0, 8), "v": info("I32", [2], 8, 16),
                               "t": info("U8", [2, 2, 2], 16, 24)}),
                          struct.pack("<d2i8B", 7.0, -1, 2, *range(8))))
add("valid-zero-size", raw(hdr({"z": info("F32", [0, 3], 0, 0), "y": info("F16", [2], 0, 4)}),
                           struct.pack("<2H", 0x3c00, 0xc000)))
all_dtypes = [("F64", "<d", 8), ("F32", "<f", 4), ("F16", "<H", 2), ("BF16", "<H", 2),
              ("I64", "<q", 8), ("I32", "<i", 4), ("I16", "<h", 2), ("I8", "<b", 1),
              ("U8", "<B", 1), ("BOOL", "<B", 1)]
header, data = {}, b""
for dt, fmt, size in all_dtypes:
    header["t_" + dt] = info(dt, [1], len(data), len(data) + size)
    data += struct.pack(fmt, 1)
add("valid-all-dtypes", raw(hdr(header), data))
add("valid-unpadded", raw(hdr({"a": info("I8", [1], 0, 1)}), b"\x05", pad=False))
add("valid-newline-padding", raw(hdr({"a": info("I8", [1], 0, 1)}) + b"\n\t ", b"\x05", pad=False))
add("valid-unicode-name", raw(hdr({"\u00fcber.\u6743\u91cd": info("U8", [1], 0, 1)}), b"\x01"))
add("valid-extra-keys", raw(hdr({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1],
                                       "note": [1, {"x": None}]}}), b"\x01"))

# ---- broken files: one rule each ----
add("bad-short-file", b"\x08\x00\x00\x00", "file is 4 bytes, too short for a header")
add("bad-header-beyond-file", raw(b"{}", length=1000),
    "header length 1000 exceeds the file size (16 bytes)")
add("bad-header-absurd", raw(b"{}", length=1 << 63),
    "header length 9223372036854775808 exceeds the 100000000-byte limit")
add("bad-header-over-limit", raw(b"{}", length=100000001),
    "header length 100000001 exceeds the 100000000-byte limit")
add("bad-header-empty", struct.pack("<Q", 0), "header is not valid JSON (line 1, column 1)")
add("bad-utf8-byte", raw(b'{"a\xff":{}}'), "header is not valid UTF-8 (byte 3 of the header)")
add("bad-utf8-overlong", raw(b'{"\xc0\xaf":{}}'), "header is not valid UTF-8 (byte 2 of the header)")
add("bad-utf8-surrogate", raw(b'{"\xed\xa0\x80":{}}'),
    "header is not valid UTF-8 (byte 2 of the header)")
add("bad-utf8-truncated", raw(b'{"a":{}} \xe2\x82', pad=False),
    "header is not valid UTF-8 (byte 9 of the header)")
add("bad-nul-byte", raw(b'{"a\x00":{}}'), "header contains a NUL character (byte 3 of the header)")
add("bad-escaped-nul", raw(b'{"a\\u0000b":{}}'),
    "header contains a NUL character (byte 3 of the header)")
add("bad-json-truncated", raw(b'{"a": ', pad=False), "header is not valid JSON (line 1, column 7)")
add("bad-json-trailing", raw(b'{}\n x', pad=False), "header is not valid JSON (line 2, column 2)")
add("bad-json-deep", raw(b"[" * 5000), "header is not valid JSON (line 1, column 1001)")
add("bad-header-array", raw(b"[]"), "header is an array, expected a JSON object")
add("bad-duplicate-name", raw(b'{"a":' + hdr(info("U8", [1], 0, 1)) + b',"a":'
                              + hdr(info("U8", [1], 1, 2)) + b"}", b"\x01\x02"),
    "duplicate tensor name 'a'")
add("bad-duplicate-metadata", raw(b'{"__metadata__":{},"__metadata__":{}}'),
    "duplicate '__metadata__'")
add("bad-duplicate-metadata-key", raw(b'{"__metadata__":{"k":"1","k":"2"}}'),
    "duplicate '__metadata__' key 'k'")
add("bad-metadata-array", raw(hdr({"__metadata__": []})),
    "'__metadata__' is an array, expected an object of strings")
add("bad-metadata-number", raw(hdr({"__metadata__": {"k": 1}})),
    "'__metadata__' value of 'k' is a number, expected a string")
add("bad-tensor-number", raw(hdr({"a": 5})),
    "tensor 'a' is a number, expected an object with dtype, shape and data_offsets")
add("bad-missing-dtype", raw(hdr({"a": {"shape": [1], "data_offsets": [0, 1]}}), b"\x01"),
    "tensor 'a': missing 'dtype'")
add("bad-missing-shape", raw(hdr({"a": {"dtype": "U8", "data_offsets": [0, 1]}}), b"\x01"),
    "tensor 'a': missing 'shape'")
add("bad-missing-offsets", raw(hdr({"a": {"dtype": "U8", "shape": [1]}}), b"\x01"),
    "tensor 'a': missing 'data_offsets'")
add("bad-duplicate-key", raw(b'{"a":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}}',
                             b"\x01"), "tensor 'a': duplicate key 'dtype'")
add("bad-dtype-number", raw(hdr({"a": info(8, [1], 0, 1)}), b"\x01"),
    "tensor 'a': 'dtype' is a number, expected a string")
add("bad-dtype-unknown", raw(hdr({"a": info("F8_E4M3", [1], 0, 1)}), b"\x01"),
    "tensor 'a': unsupported dtype 'F8_E4M3'")
add("bad-shape-string", raw(hdr({"a": info("U8", "1", 0, 1)}), b"\x01"),
    "tensor 'a': 'shape' is a string, expected an array")
add("bad-shape-negative", raw(hdr({"a": info("U8", [-1], 0, 1)}), b"\x01"),
    "tensor 'a': shape dimension 1 is not a non-negative integer")
add("bad-shape-fraction", raw(hdr({"a": info("U8", [1, 1.5], 0, 1)}), b"\x01"),
    "tensor 'a': shape dimension 2 is not a non-negative integer")
add("bad-shape-huge", raw(b'{"a":{"dtype":"U8","shape":[1e300],"data_offsets":[0,1]}}', b"\x01"),
    "tensor 'a': shape dimension 1 is not a non-negative integer")
add("bad-shape-nested", raw(hdr({"a": info("U8", [[1]], 0, 1)}), b"\x01"),
    "tensor 'a': shape dimension 1 is not a non-negative integer")
add("bad-shape-overflow", raw(hdr({"a": info("F64", [1 << 32, 1 << 32], 0, 8)}), b"\0" * 8),
    "tensor 'a': shape [4294967296, 4294967296] overflows (more than 2^53 elements)")
add("bad-shape-overflow-zero", raw(hdr({"a": info("F64", [0, 1 << 30, 1 << 30, 1 << 30], 0, 0)})),
    "tensor 'a': shape [0, 1073741824, 1073741824, 1073741824] overflows (more than 2^53 elements)")
add("bad-shape-rank", raw(hdr({"a": info("U8", [1] * 33, 0, 1)}), b"\x01"),
    "tensor 'a': shape has 33 dimensions, at most 32 are read")
add("bad-offsets-single", raw(hdr({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0]}}), b"\x01"),
    "tensor 'a': 'data_offsets' must be [begin, end] with 0 <= begin <= end")
add("bad-offsets-reversed", raw(hdr({"a": info("U8", [0], 1, 0)}), b"\x01"),
    "tensor 'a': 'data_offsets' must be [begin, end] with 0 <= begin <= end")
add("bad-offsets-negative", raw(hdr({"a": info("U8", [1], -1, 0)}), b"\x01"),
    "tensor 'a': 'data_offsets' must be [begin, end] with 0 <= begin <= end")
add("bad-offsets-huge", raw(b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1e20]}}', b"\x01"),
    "tensor 'a': 'data_offsets' must be [begin, end] with 0 <= begin <= end")
add("bad-offsets-outside", raw(hdr({"a": info("F64", [100], 0, 800)}), b"\0" * 8),
    "tensor 'a': data_offsets [0, 800] lie outside the 8-byte data section")
add("bad-size-mismatch", raw(hdr({"a": info("F32", [3], 0, 8)}), b"\0" * 8),
    "tensor 'a': F32 of shape [3] needs 12 bytes, data_offsets [0, 8] hold 8")
add("bad-overlap", raw(hdr({"a": info("F32", [2], 0, 8), "b": info("F32", [2], 4, 12)}), b"\0" * 12),
    "tensor 'b' overlaps tensor 'a' in the data section")
add("bad-hole", raw(hdr({"a": info("F32", [2], 0, 8), "b": info("F32", [2], 16, 24)}), b"\0" * 24),
    "bytes 8..16 of the data section belong to no tensor")
add("bad-leading-hole", raw(hdr({"a": info("F32", [2], 8, 16)}), b"\0" * 16),
    "bytes 0..8 of the data section belong to no tensor")
add("bad-trailing-data", raw(hdr({"a": info("F32", [2], 0, 8)}), b"\0" * 16),
    "bytes 8..16 of the data section belong to no tensor")
add("bad-truncated-data", raw(hdr({"a": info("F64", [2, 3], 0, 48)}), f64[:40]),
    "tensor 'a': data_offsets [0, 48] lie outside the 40-byte data section")

os.makedirs(OUT, exist_ok=True)
for old in os.listdir(OUT):
    os.remove(os.path.join(OUT, old))
with open(os.path.join(OUT, "EXPECTED"), "w", encoding="utf-8") as expected:
    for name, blob, message in cases:
        with open(os.path.join(OUT, name + ".safetensors"), "wb") as f:
            f.write(blob)
        expected.write("%s.safetensors\t%s\n" % (name, message))
print("%d files in %s" % (len(cases), OUT))
