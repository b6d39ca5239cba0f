"""PyTorch peer for bench/mlp.c: one AdamW step of a 784-1024-1024-10 ReLU MLP with
cross-entropy at batch 256, one thread. Prints `torch_ms_per_step <ms>`."""
import sys

import torch
from timing import best_ms

torch.set_num_threads(1)
torch.manual_seed(0)
B, steps = 256, int(sys.argv[1]) if len(sys.argv) > 1 else 20
model = torch.nn.Sequential(
    torch.nn.Linear(784, 1024), torch.nn.ReLU(),
    torch.nn.Linear(1024, 1024), torch.nn.ReLU(),
    torch.nn.Linear(1024, 10))
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
x = torch.randn(B, 784)
y = torch.randint(0, 10, (B,))


def step():
    opt.zero_grad(set_to_none=False)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()


print(f"torch_ms_per_step {best_ms(step, steps, warmup=3):.3f}")
