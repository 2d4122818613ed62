# mlp.py: the PyTorch twin of tests/bench/mlp.lua: one epoch of the digits MLP 64-128-10
# (ReLU, cross-entropy, Adam, batch 32), best wall time of the repeats. Prints
# "torch_epoch_ms <ms>".
# Usage: /usr/bin/python3 tests/bench/mlp.py path/to/digits.csv.gz [repeats] [float64|float32] [threads]
import gzip, sys, time
import torch

torch.set_num_threads(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
torch.set_default_dtype(torch.float32 if sys.argv[3:4] == ["float32"] else torch.float64)
torch.manual_seed(42)

def fnv1a(i):
    h = 2166136261
    for c in str(i).encode():
        h = ((h ^ c) * 16777619) & 0xffffffff
    return h

rows = [[float(v) for v in line.split(b",")] for line in gzip.open(sys.argv[1]) if line.strip()]
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 20
data = torch.tensor(rows)
train = [i - 1 for i in range(1, len(rows) + 1) if fnv1a(i) % 100 >= 20]   # loom.data.split
X = data[train, :64] / 16
y = data[train, 64].long()
n = X.shape[0]

model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
loss_fn = torch.nn.CrossEntropyLoss()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)

def epoch():
    perm = torch.randperm(n)
    for i in range(0, n, 32):
        idx = perm[i:i + 32]
        xb, yb = X[idx], y[idx]
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()

epoch()  # warm-up
best = float("inf")
for _ in range(repeats):
    t0 = time.perf_counter()
    epoch()
    best = min(best, time.perf_counter() - t0)
print("torch_epoch_ms %.3f" % (best * 1000))
