"""PyTorch peer for bench/mamba.c: a Mamba block (d_model 256, d_state 16, expand 2,
d_conv 4) over (B=8, T=512) written with plain torch ops, the scan as mamba_ssm's
selective_scan_ref (the same equations as tests/gen_mamba_fixtures.py), float32.
Prints `mamba_fwd <ms>` (forward, no autograd) and, given --backward, `mamba_fwd_bwd <ms>`.
Usage: mamba_torch.py THREADS [--backward]."""
import math
import sys

import torch
import torch.nn.functional as F
from timing import best_ms

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 1)
torch.manual_seed(0)
B, T, D_MODEL, D_STATE, EXPAND, D_CONV = 8, 512, 256, 16, 2, 4
D_INNER = EXPAND * D_MODEL
DT_RANK = math.ceil(D_MODEL / 16)


def param(*shape, scale=0.05):
    return (torch.randn(*shape) * scale).requires_grad_()


p = {
    "in_proj": param(2 * D_INNER, D_MODEL),
    "conv_w": param(D_INNER, 1, D_CONV, scale=0.3),
    "conv_b": param(D_INNER),
    "x_proj": param(DT_RANK + 2 * D_STATE, D_INNER),
    "dt_proj": param(D_INNER, DT_RANK, scale=DT_RANK ** -0.5),
    "dt_bias": (torch.rand(D_INNER) * -4.0 - 2.0).requires_grad_(),
    "A_log": torch.log(torch.arange(1, D_STATE + 1).float()).repeat(D_INNER, 1).requires_grad_(),
    "D": torch.ones(D_INNER).requires_grad_(),
    "out_proj": param(D_MODEL, D_INNER),
}


def selective_scan_ref(u, delta, A, Bm, Cm, D, z, delta_bias):
    """mamba_ssm's selective_scan_ref with delta_softplus=True, zero initial state:
    u, delta, z (B,D,L); A (D,N); Bm, Cm (B,N,L) -> (B,D,L)."""
    delta = F.softplus(delta + delta_bias[..., None])
    deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
    deltaB_u = torch.einsum("bdl,bnl,bdl->bdln", delta, Bm, u)
    x = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for i in range(u.shape[2]):
        x = deltaA[:, :, i] * x + deltaB_u[:, :, i]
        ys.append(torch.einsum("bdn,bn->bd", x, Cm[:, :, i]))
    out = torch.stack(ys, dim=2) + u * D[:, None]
    return out * F.silu(z)


def mamba(x):
    xz = F.linear(x, p["in_proj"]).transpose(1, 2)  # (B, 2*D_INNER, T)
    xi, z = xz.chunk(2, dim=1)
    u = F.silu(F.conv1d(xi, p["conv_w"], p["conv_b"], padding=D_CONV - 1, groups=D_INNER)[..., :T])
    dbl = F.linear(u.transpose(1, 2), p["x_proj"])  # (B, T, R + 2N)
    dt, Bm, Cm = torch.split(dbl, [DT_RANK, D_STATE, D_STATE], dim=-1)
    delta = (dt @ p["dt_proj"].t()).transpose(1, 2)
    y = selective_scan_ref(u, delta, -torch.exp(p["A_log"]), Bm.transpose(1, 2), Cm.transpose(1, 2), p["D"], z,
                           p["dt_bias"])
    return F.linear(y.transpose(1, 2), p["out_proj"])


x = torch.randn(B, T, D_MODEL)


def fwd():
    with torch.no_grad():
        mamba(x)


def fwd_bwd():
    mamba(x).sum().backward()


print(f"mamba_fwd {best_ms(fwd, 3, warmup=1):.3f}", flush=True)
# Autograd through the 512-step Python loop takes minutes (more than ten on one busy
# core here), and no target compares against it, so it runs once and only on request.
if "--backward" in sys.argv:
    print(f"mamba_fwd_bwd {best_ms(fwd_bwd, 1, warmup=0):.3f}", flush=True)
