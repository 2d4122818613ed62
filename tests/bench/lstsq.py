# lstsq.py: the numpy twin of tests/bench/lstsq.lua. One measurement per process so the peak
# memory (VmHWM) is its own: /usr/bin/python3 lstsq.py METHOD ROWS COLS
# -> "seconds <s> vmhwm_kb <kb> x_kb <kb>"
# METHOD: qr (np.linalg.qr, then the n x n triangular system: np.linalg.solve, as scipy is
# not installed; O(n^3) next to the O(m n^2) QR), svd (np.linalg.lstsq = gelsd),
# normal (np.linalg.solve(X.T @ X, X.T @ y)).
import sys
import time

import numpy as np


def vmhwm_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def main():
    method, m, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(1)
    X = rng.standard_normal((m, n))
    y = X @ rng.standard_normal(n) + rng.standard_normal(m)
    t0 = time.perf_counter()
    if method == "qr":
        q, r = np.linalg.qr(X)
        beta = np.linalg.solve(r, q.T @ y)
    elif method == "svd":
        beta = np.linalg.lstsq(X, y, rcond=None)[0]
    elif method == "normal":
        beta = np.linalg.solve(X.T @ X, X.T @ y)
    else:
        raise SystemExit("unknown method " + method)
    seconds = time.perf_counter() - t0
    assert np.isfinite(beta).all()
    print(f"seconds {seconds:.6f} vmhwm_kb {vmhwm_kb()} x_kb {X.nbytes // 1024}")


if __name__ == "__main__":
    main()
