#!/usr/bin/python3
"""matrix.py: numpy's side of tests/bench/matrix.lua (run with /usr/bin/python3, the
Debian numpy on the same OpenBLAS). Prints "name value" lines; not a test, no asserts."""
import ctypes
import statistics
import sys
import time

import numpy as np

REPEATS = 7


def openblas():
    """The OpenBLAS numpy loaded (Debian's libblas.so.3 alternative), or None."""
    for line in open("/proc/self/maps"):
        path = line.split()[-1]
        if "openblas" in path and path.endswith(".so") or "libopenblas" in path:
            try:
                return ctypes.CDLL(path), path
            except OSError:
                pass
    return None, None


def median_time(fn, batch):
    """Median over REPEATS of the mean wall time of `batch` calls, in seconds."""
    fn()
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        for _ in range(batch):
            fn()
        times.append((time.perf_counter() - t0) / batch)
    return statistics.median(times)


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    np.ones((2, 2)) @ np.ones((2, 2))  # loads BLAS
    lib, path = openblas()
    if lib is not None:
        lib.openblas_set_num_threads(threads)
        lib.openblas_get_corename.restype = ctypes.c_char_p
        print("blas", path)
        print("kernel", lib.openblas_get_corename().decode())
        print("threads", lib.openblas_get_num_threads())
    print("numpy", np.__version__)

    rng = np.random.default_rng(1)
    n = 1024
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    c = np.zeros((n, n))
    t = median_time(lambda: a @ b, 3)
    print("gemm_gflops", 2.0 * n ** 3 / t / 1e9)
    t = median_time(lambda: np.matmul(a, b, out=c), 3)
    print("gemm_out_gflops", 2.0 * n ** 3 / t / 1e9)
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    c32 = np.zeros((n, n), dtype=np.float32)
    t = median_time(lambda: a32 @ b32, 5)
    print("sgemm_gflops", 2.0 * n ** 3 / t / 1e9)
    t = median_time(lambda: np.matmul(a32, b32, out=c32), 5)
    print("sgemm_out_gflops", 2.0 * n ** 3 / t / 1e9)

    x, y, z = rng.random((1000, 1000)), rng.random((1000, 1000)), np.zeros((1000, 1000))
    ops = {
        "add_ms": lambda: x + y,
        "add_out_ms": lambda: np.add(z, y, out=z),
        "mul_ms": lambda: x * y,
        "exp_ms": lambda: np.exp(x),
        "sum_ms": lambda: x.sum(),
        "mean_ms": lambda: x.mean(),
        "max_ms": lambda: x.max(),
        "sumdim_ms": lambda: x.sum(axis=0),
    }
    for name, fn in ops.items():
        print(name, median_time(fn, 5) * 1e3)

    c, s = np.zeros((4, 4)), rng.random((4, 4))
    calls = 200000
    t0 = time.perf_counter()
    for _ in range(calls):
        c += s
    print("small_add_us", (time.perf_counter() - t0) / calls * 1e6)


if __name__ == "__main__":
    main()
