"""Writes tests/fixtures/mamba_fixtures.h: a small Mamba block and a small Mamba-2 block in
plain torch ops (mamba_ssm's slow path: the Mamba module with selective_scan_ref's
equations, and the Mamba2 module with the SSD recurrence and RMSNormGated), run from
given initial states (the scan state h0 and the convolution's last d_conv-1 inputs c0).
Emitted: the parameters as mamba_ssm names them, x, h0, c0, the outputs y, hn, cn, and
the gradients of loss = sum(y*wy) + sum(hn*wh) + sum(cn*wc) with respect to everything.
Parameters and inputs are float32 values; the model runs in float64, so the fixture is
the exact answer for those values. Run: /usr/bin/python3 tests/gen_mamba_fixtures.py"""
import math

import torch
import torch.nn.functional as F

B, T, D_MODEL, D_STATE, EXPAND, D_CONV = 2, 6, 8, 4, 2, 4
D_INNER = EXPAND * D_MODEL
DT_RANK = math.ceil(D_MODEL / 16)
HEADDIM, NGROUPS = 4, 2
NHEADS = D_INNER // HEADDIM
CONV_DIM = D_INNER + 2 * NGROUPS * D_STATE
EPS = 1e-5


def linear_init(out_f, in_f):
    return torch.nn.Linear(in_f, out_f, bias=False).weight.detach().clone()


def conv_init(ch):
    conv = torch.nn.Conv1d(ch, ch, D_CONV, groups=ch, bias=True)
    return conv.weight.detach().clone(), conv.bias.detach().clone()


def dt_bias_init(n, dt_min=1e-3, dt_max=0.1, floor=1e-4):
    dt = torch.exp(torch.rand(n) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).clamp(min=floor)
    return dt + torch.log(-torch.expm1(-dt))


def mamba_params():
    p = {"in_proj.weight": linear_init(2 * D_INNER, D_MODEL)}
    p["conv1d.weight"], p["conv1d.bias"] = conv_init(D_INNER)
    p["x_proj.weight"] = linear_init(DT_RANK + 2 * D_STATE, D_INNER)
    std = DT_RANK ** -0.5
    p["dt_proj.weight"] = torch.empty(D_INNER, DT_RANK).uniform_(-std, std)
    p["dt_proj.bias"] = dt_bias_init(D_INNER)
    # S4D-real init, nudged so no two channels are alike
    p["A_log"] = torch.log(torch.arange(1, D_STATE + 1).float()).repeat(D_INNER, 1) + 0.1 * torch.randn(D_INNER, D_STATE)
    p["D"] = torch.ones(D_INNER) + 0.1 * torch.randn(D_INNER)
    p["out_proj.weight"] = linear_init(D_MODEL, D_INNER)
    return p


def mamba2_params():
    p = {"in_proj.weight": linear_init(2 * D_INNER + 2 * NGROUPS * D_STATE + NHEADS, D_MODEL)}
    p["conv1d.weight"], p["conv1d.bias"] = conv_init(CONV_DIM)
    p["dt_bias"] = dt_bias_init(NHEADS)
    p["A_log"] = torch.log(torch.empty(NHEADS).uniform_(1, 16))
    p["D"] = torch.ones(NHEADS) + 0.1 * torch.randn(NHEADS)
    p["norm.weight"] = torch.ones(D_INNER) + 0.1 * torch.randn(D_INNER)
    p["out_proj.weight"] = linear_init(D_MODEL, D_INNER)
    return p


def conv_with_state(xi, w, b, c0):
    """Depthwise causal conv of xi (B,T,C) continuing from c0 (B,C,K-1): (B,T,C), cn."""
    xt = torch.cat([c0, xi.transpose(1, 2)], dim=2)
    y = F.conv1d(xt, w, b, groups=xi.shape[2])
    return y.transpose(1, 2), xt[:, :, -(D_CONV - 1):]


def selective_scan_ref(u, delta, A, Bm, Cm, D, z, delta_bias, h0):
    """mamba_ssm's selective_scan_ref (delta_softplus=True) from an initial state:
    u, delta, z (B,D,L); A (D,N); Bm, Cm (B,N,L); returns out (B,D,L) and the last state."""
    delta = F.softplus(delta + delta_bias[..., None])
    deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
    deltaB_u = torch.einsum("bdl,bnl,bdl->bdln", delta, Bm, u)
    x, ys = h0, []
    for i in range(u.shape[2]):
        x = deltaA[:, :, i] * x + deltaB_u[:, :, i]
        ys.append(torch.einsum("bdn,bn->bd", x, Cm[:, :, i]))
    out = torch.stack(ys, dim=2) + u * D[:, None]
    return out * F.silu(z), x


def mamba_forward(p, x, h0, c0):
    xz = x @ p["in_proj.weight"].T
    xi, z = xz.chunk(2, dim=-1)
    xc, cn = conv_with_state(xi, p["conv1d.weight"], p["conv1d.bias"], c0)
    u = F.silu(xc)
    dt, Bm, Cm = torch.split(u @ p["x_proj.weight"].T, [DT_RANK, D_STATE, D_STATE], dim=-1)
    delta = dt @ p["dt_proj.weight"].T
    A = -torch.exp(p["A_log"])
    y, hn = selective_scan_ref(u.transpose(1, 2), delta.transpose(1, 2), A, Bm.transpose(1, 2), Cm.transpose(1, 2),
                               p["D"], z.transpose(1, 2), p["dt_proj.bias"], h0)
    return y.transpose(1, 2) @ p["out_proj.weight"].T, hn, cn


def mamba2_forward(p, x, h0, c0):
    gn = NGROUPS * D_STATE
    z, xbc, dt = torch.split(x @ p["in_proj.weight"].T, [D_INNER, CONV_DIM, NHEADS], dim=-1)
    xbc, cn = conv_with_state(xbc, p["conv1d.weight"], p["conv1d.bias"], c0)
    xs, Bm, Cm = torch.split(F.silu(xbc), [D_INNER, gn, gn], dim=-1)
    xs = xs.reshape(B, T, NHEADS, HEADDIM)
    rep = NHEADS // NGROUPS  # head h reads group h // rep
    Bm = Bm.reshape(B, T, NGROUPS, D_STATE).repeat_interleave(rep, dim=2)
    Cm = Cm.reshape(B, T, NGROUPS, D_STATE).repeat_interleave(rep, dim=2)
    dt = F.softplus(dt + p["dt_bias"])
    A = -torch.exp(p["A_log"])
    h, ys = h0, []
    for t in range(T):
        dA = torch.exp(dt[:, t] * A)[:, :, None, None]
        h = dA * h + (dt[:, t, :, None] * xs[:, t])[..., None] * Bm[:, t, :, None, :]
        ys.append(torch.einsum("bhpn,bhn->bhp", h, Cm[:, t]) + p["D"][:, None] * xs[:, t])
    y = torch.stack(ys, dim=1).reshape(B, T, D_INNER) * F.silu(z)
    y = y.reshape(B, T, NGROUPS, D_INNER // NGROUPS)
    y = (y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + EPS)).reshape(B, T, D_INNER) * p["norm.weight"]
    return y @ p["out_proj.weight"].T, h, cn


def emit(out, name, t):
    vals = ", ".join(f"{v:.9e}f" for v in t.detach().reshape(-1).tolist())
    out.append(f"static const float {name}[{t.numel()}] = {{{vals}}};")


def fixture(out, tag, params, forward, h_shape, c_shape):
    leaves = {k: v.double().requires_grad_() for k, v in params.items()}
    x = torch.randn(B, T, D_MODEL).double().requires_grad_()
    h0 = torch.randn(*h_shape).double().requires_grad_()
    c0 = torch.randn(*c_shape).double().requires_grad_()
    y, hn, cn = forward(leaves, x, h0, c0)
    wy, wh, wc = torch.randn_like(y), torch.randn_like(hn), torch.randn_like(cn)
    ((y * wy).sum() + (hn * wh).sum() + (cn * wc).sum()).backward()
    names = []
    for k, v in leaves.items():
        cname = f"{tag}_fx_" + k.replace(".", "_")
        emit(out, cname, v)
        emit(out, cname + "_grad", v.grad)
        names.append(f'{{"{tag}.{k}", {cname}, {cname}_grad}}')
    out.append(f"static const mamba_fx_param {tag}_fx_params[] = {{\n    " + ",\n    ".join(names) + "};")
    for n, t in [("x", x), ("h0", h0), ("c0", c0), ("y", y), ("hn", hn), ("cn", cn), ("wy", wy), ("wh", wh),
                 ("wc", wc), ("x_grad", x.grad), ("h0_grad", h0.grad), ("c0_grad", c0.grad)]:
        emit(out, f"{tag}_fx_{n}", t)


torch.manual_seed(0)
out = ["/* generated by tests/gen_mamba_fixtures.py (PyTorch %s): do not edit */" % torch.__version__,
       f"enum {{ MAMBA_FX_B = {B}, MAMBA_FX_T = {T}, MAMBA_FX_D_MODEL = {D_MODEL}, MAMBA_FX_D_STATE = {D_STATE}, "
       f"MAMBA_FX_EXPAND = {EXPAND}, MAMBA_FX_D_CONV = {D_CONV}, MAMBA_FX_HEADDIM = {HEADDIM}, "
       f"MAMBA_FX_NGROUPS = {NGROUPS} }};",
       "typedef struct { const char *name; const float *value, *grad; } mamba_fx_param;"]
fixture(out, "mamba", mamba_params(), mamba_forward, (B, D_INNER, D_STATE), (B, D_INNER, D_CONV - 1))
fixture(out, "mamba2", mamba2_params(), mamba2_forward, (B, NHEADS, HEADDIM, D_STATE), (B, CONV_DIM, D_CONV - 1))
with open("tests/fixtures/mamba_fixtures.h", "w") as f:
    f.write("\n".join(out) + "\n")
