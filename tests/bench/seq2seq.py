# tests/bench/seq2seq.py: the PyTorch twin of tests/bench/seq2seq.lua: one training step
# (forward, backward) of the same attention encoder-decoder.
#   python3 seq2seq.py REPS THREADS DTYPE    (DTYPE float64 | float32)
# Prints "step_ms <ms>": wall-clock time per step, the best of 5 blocks of REPS steps.
import sys
import time

import torch
import torch.nn.functional as F

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 10
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
torch.set_default_dtype(torch.float32 if len(sys.argv) > 3 and sys.argv[3] == "float32" else torch.float64)
B, S, T, E, H, VS, VT = 16, 9, 30, 32, 64, 17, 10
torch.manual_seed(1)
src_emb, tgt_emb = torch.nn.Embedding(VS, E, padding_idx=0), torch.nn.Embedding(VT, E, padding_idx=0)
enc = torch.nn.LSTM(E, H)
cell = torch.nn.LSTMCell(E + H, H)
attn_in = torch.nn.Linear(H, H, bias=False)
combine = torch.nn.Linear(2 * H, H, bias=False)
gen = torch.nn.Linear(H, VT)
params = [p for m in (src_emb, tgt_emb, enc, cell, attn_in, combine, gen) for p in m.parameters()]
src = torch.randint(4, VS, (S, B))
tin = torch.randint(4, VT, (T, B))
tout = torch.randint(4, VT, (T, B))


def step():
    for p in params:
        p.grad = None
    keys, (h, c) = enc(src_emb(src))
    h, c = h[0], c[0]
    kb = keys.transpose(0, 1)
    feed = torch.zeros(B, H)
    outs = []
    for t in range(T):
        h, c = cell(torch.cat([tgt_emb(tin[t]), feed], 1), (h, c))
        a = torch.softmax(torch.einsum("bh,bsh->bs", attn_in(h), kb), 1)
        ctx = torch.einsum("bs,bsh->bh", a, kb)
        feed = torch.tanh(combine(torch.cat([ctx, h], 1)))
        outs.append(feed)
    loss = F.cross_entropy(gen(torch.cat(outs, 0)), tout.reshape(-1), ignore_index=0)
    loss.backward()


step()
best = float("inf")
for _ in range(5):
    t0 = time.perf_counter()
    for _ in range(reps):
        step()
    best = min(best, (time.perf_counter() - t0) / reps)
print("step_ms %.3f" % (best * 1000))
