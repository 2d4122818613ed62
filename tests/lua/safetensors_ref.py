"""safetensors_ref.py: an independent safetensors writer and reader for loom's reference
tests (json + struct + numpy; Debian has no safetensors package). Not loom's format code.
BF16 arrays are passed as ("BF16", uint16 bit array, shape)."""
import json
import struct

import numpy as np

DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
          "I8": "i1", "U8": "u1", "BOOL": "?"}
NAMES = {np.dtype(v).str: k for k, v in DTYPES.items()}


def bf16_bits(values):
    """float values -> bfloat16 bits (round to nearest even through float32)."""
    u = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def bf16_values(bits):
    wide = np.asarray(bits, dtype=np.uint32)
    return (wide.ravel() << 16).view(np.float32).astype(np.float64).reshape(wide.shape)


def write(path, tensors, metadata=None):
    """tensors: name -> numpy array, or name -> ("BF16", bits, shape)."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = dict(metadata)
    for name in sorted(tensors):
        t = tensors[name]
        if isinstance(t, tuple):
            dtype, data, shape = t[0], np.ascontiguousarray(t[1], dtype="<u2").tobytes(), list(t[2])
        else:
            a = np.asarray(t)
            a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).reshape(a.shape)
            dtype, data, shape = NAMES[a.dtype.str], a.tobytes(), list(a.shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read(path):
    """-> (tensors name -> float64 numpy array of the true shape, metadata, dtypes)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors, dtypes, end = {}, {}, 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        b, e = info["data_offsets"]
        assert b == end, "offsets not contiguous at %s" % name
        end = e
        raw = data[b:e]
        if info["dtype"] == "BF16":
            values = bf16_values(np.frombuffer(raw, dtype="<u2"))
        else:
            values = np.frombuffer(raw, dtype=DTYPES[info["dtype"]]).astype(np.float64)
        tensors[name] = values.reshape(info["shape"])
        dtypes[name] = info["dtype"]
    assert end == len(data), "data section has bytes after the last tensor"
    return tensors, metadata, dtypes
