"""PyTorch peer for bench/rec.c: a training epoch of the same SASRec as bench/rec's
(pre-LN blocks, 1 head, L=50, 2 blocks, ReLU FFN, final LayerNorm, item embedding shared
with the output, BCE with one uniform negative per position, Adam 1e-3, batch 128) on a
data file, leave-one-out training prefixes (all but the last two items).
Usage: rec_torch.py FILE THREADS DIM DROPOUT. Prints `sasrec_epoch_s <seconds>`, the
faster of two epochs."""
import sys
import time

import torch
import torch.nn as nn

torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
torch.manual_seed(0)
L, BLOCKS, BATCH = 50, 2, 128
D = int(sys.argv[3]) if len(sys.argv) > 3 else 64
P = float(sys.argv[4]) if len(sys.argv) > 4 else 0.2

users = {}
with open(sys.argv[1]) as f:
    for line in f:
        ids = [int(t) for t in line.split()]
        if len(ids) > 1:
            users.setdefault(ids[0], []).extend(ids[1:])
n_items = max(max(s) for s in users.values())
windows = []
for seq in users.values():
    prefix = seq[:-2]
    if len(prefix) >= 2:
        w = prefix[-(L + 1):]
        windows.append([0] * (L + 1 - len(w)) + w)
windows = torch.tensor(windows, dtype=torch.long)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.attn = nn.MultiheadAttention(D, 1, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(D, D), nn.ReLU(), nn.Linear(D, D))
        self.drop = nn.Dropout(P)

    def forward(self, x, causal, pad):
        a = self.ln1(x)
        x = x + self.drop(self.attn(a, a, a, attn_mask=causal, key_padding_mask=pad, need_weights=False)[0])
        return x + self.drop(self.ffn(self.ln2(x)))


class SASRec(nn.Module):
    def __init__(self):
        super().__init__()
        self.item = nn.Embedding(n_items + 2, D, padding_idx=0)
        self.pos = nn.Embedding(L, D)
        self.blocks = nn.ModuleList(Block() for _ in range(BLOCKS))
        self.ln = nn.LayerNorm(D)
        self.drop = nn.Dropout(P)

    def forward(self, ids):
        x = self.item(ids) * D ** 0.5 + self.pos.weight
        x = self.drop(x)
        causal = torch.triu(torch.ones(L, L, dtype=torch.bool), 1)
        pad = ids == 0
        # rows that are all padding would give NaN attention: let them see themselves
        pad = pad & ~torch.eye(L, dtype=torch.bool)[-1].expand_as(pad)
        for b in self.blocks:
            x = b(x, causal, pad)
        return self.ln(x)


model = SASRec()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
best = float("inf")
for epoch in range(2):
    perm = torch.randperm(len(windows))
    t0 = time.perf_counter()
    for i in range(0, len(windows), BATCH):
        w = windows[perm[i:i + BATCH]]
        inp, tgt = w[:, :-1], w[:, 1:]
        h = model(inp)
        valid = (inp != 0) & (tgt != 0)
        hv, pos = h[valid], tgt[valid]
        neg = torch.randint(1, n_items + 1, pos.shape)
        sp = (hv * model.item(pos)).sum(-1)
        sn = (hv * model.item(neg)).sum(-1)
        loss = nn.functional.softplus(-sp).mean() + nn.functional.softplus(sn).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    best = min(best, time.perf_counter() - t0)
print(f"sasrec_epoch_s {best:.4f}", flush=True)
