"""safetensors.py: the numpy twin of bench/safetensors.lua: the reference reader and writer
(json + numpy) on the same sizes. Usage: /usr/bin/python3 tests/bench/safetensors.py [millions]"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lua"))
import safetensors_ref as st  # noqa: E402

millions = float(sys.argv[1]) if len(sys.argv) > 1 else 10
n = int(millions * 1e6)
path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "numpy-bench.safetensors")
x = np.random.default_rng(0).standard_normal((n // 1000, 1000))


def clock(f):
    best = float("inf")
    for _ in range(3):
        t0 = time.process_time()
        f()
        best = min(best, time.process_time() - t0)
    return best


for dtype, arr in (("F64", x), ("F32", x.astype(np.float32))):
    save = clock(lambda: st.write(path, {"x": arr}))
    load = clock(lambda: st.read(path))
    print("numpy %s  %dM values: save %.3f s, load %.3f s" % (dtype, millions, save, load))
os.remove(path)
