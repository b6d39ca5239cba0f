"""PyTorch peer for bench/rnn.c (one thread): nn.LSTM / nn.GRU forward+backward on the
given shapes and single-step latency at B=1. Prints lines `<name> <ms>`."""
import sys

import torch
from timing import best_ms

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
torch.manual_seed(0)


for kind, module in (("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)):
    for T, B, I, H in ((100, 32, 128, 256), (512, 16, 64, 128)):
        net = module(I, H, batch_first=True)
        x = torch.randn(B, T, I, requires_grad=True)

        def fwd_bwd():
            y, _ = net(x)
            y.sum().backward()

        print(f"{kind}_T{T}_B{B}_I{I}_H{H} {best_ms(fwd_bwd, 5):.4f}", flush=True)
    net = module(128, 256, batch_first=True)
    xt = torch.randn(1, 1, 128)
    with torch.no_grad():
        def step():
            net(xt)
        print(f"{kind}_step_B1_I128_H256 {best_ms(step, 2000):.5f}", flush=True)
