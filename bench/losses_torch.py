"""PyTorch peer for bench/losses.c: F.cross_entropy, softmax and log_softmax
forward+backward over logits (rows, V). Usage: losses_torch.py THREADS ROWS V.
Prints lines `<op> <ms>`."""
import sys

import torch
import torch.nn.functional as F
from timing import best_ms

threads, rows, V = (int(a) for a in sys.argv[1:4])
torch.set_num_threads(threads)
torch.manual_seed(0)
x = (3.0 * torch.randn(rows, V)).requires_grad_()
t = torch.randint(0, V, (rows,))
w = torch.randn(V)

# softmax before log_softmax: bench/losses.c reads the first line holding a key
ops = {
    "cross_entropy": lambda: F.cross_entropy(x, t),
    "softmax": lambda: (torch.softmax(x, -1) * w).sum(),
    "log_softmax": lambda: (torch.log_softmax(x, -1) * w).sum(),
}
for name, loss in ops.items():
    def fwd_bwd():
        x.grad = None
        loss().backward()

    print(f"{name} {best_ms(fwd_bwd, 3, warmup=1):.3f}", flush=True)
