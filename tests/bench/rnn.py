# tests/bench/rnn.py: the PyTorch twin of tests/bench/rnn.lua: a training step (forward,
# backward, SGD) of a one-layer LSTM/GRU/RNN with a linear classifier on the last state, in
# float64 and float32. Prints "kind B T I H f64_ms f32_ms" per shape. Run with /usr/bin/python3.
import argparse
import time

import torch

SHAPES = [(1, 50, 16, 32), (32, 50, 32, 128), (64, 100, 64, 256)]
CLASSES = 10


def step_fn(kind, B, T, I, H, dtype):
    torch.manual_seed(1)
    rnn = getattr(torch.nn, kind)(I, H).to(dtype)
    head = torch.nn.Linear(H, CLASSES).to(dtype)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.randn(T, B, I, dtype=dtype)
    y = torch.arange(B) % CLASSES

    def step():
        opt.zero_grad()
        _, h = rnn(x)
        if kind == "LSTM":
            h = h[0]
        loss = loss_fn(head(h[-1]), y)
        loss.backward()
        opt.step()
    return step


def measure(fn, budget):
    fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-6)
    reps = max(1, int(budget / 3 / once))
    best = float("inf")
    for _ in range(2 if reps == 1 else 3):
        a = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - a) / reps)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--kinds", default="LSTM,GRU,RNN")
    ap.add_argument("--shapes", default="1,2,3")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for kind in a.kinds.split(","):
        for k in a.shapes.split(","):
            B, T, I, H = SHAPES[int(k) - 1]
            t64 = measure(step_fn(kind, B, T, I, H, torch.float64), a.seconds)
            t32 = measure(step_fn(kind, B, T, I, H, torch.float32), a.seconds)
            print("%s %d %d %d %d %.4f %.4f" % (kind, B, T, I, H, t64 * 1e3, t32 * 1e3), flush=True)


if __name__ == "__main__":
    main()
