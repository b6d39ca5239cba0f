"""Writes tests/fixtures/delta_fixtures.h: the 14.4 layers as plain PyTorch modules with
flash-linear-attention's parameter names (DeltaNet, GatedDeltaNet, GatedDeltaProduct,
LinearAttention, ReBased), run token by token in float64 from float32 weights and inputs.
Each fixture holds the weights, x, h0 (and the key sum c0), the outputs y, hn (cn) and the
gradients of loss = sum(y*wy) + sum(hn*wh) [+ sum(cn*wc)] with respect to everything.
Run: /usr/bin/python3 tests/gen_delta_fixtures.py"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

B, T = 2, 5


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(1.0 + 0.2 * torch.randn(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def l2norm(x):  # fla's use_qk_l2norm_in_kernel
    return x * torch.rsqrt((x * x).sum(-1, keepdim=True) + 1e-6)


class DeltaNetFamily(nn.Module):
    """fla's DeltaNet (n = 1, no gates), GatedDeltaNet (+ forget and output gates) and
    GatedDeltaProduct (n Householder steps per token), the recurrent form."""

    def __init__(self, C, H, DK, DV, n, forget, neg, conv, out_gate, eps=1e-5):
        super().__init__()
        self.H, self.DK, self.DV, self.n, self.neg, self.conv = H, DK, DV, n, neg, conv
        self.q_proj = nn.Linear(C, H * DK, bias=False)
        self.k_proj = nn.Linear(C, n * H * DK, bias=False)
        self.v_proj = nn.Linear(C, n * H * DV, bias=False)
        self.b_proj = nn.Linear(C, n * H, bias=False)
        self.a_proj = nn.Linear(C, H, bias=False) if forget else None
        if forget:
            self.A_log = nn.Parameter(torch.log(torch.empty(H).uniform_(1, 16)))
            self.dt_bias = nn.Parameter(torch.empty(H).uniform_(-5, -2))
        if conv:  # fla's ShortConvolution is a depthwise nn.Conv1d
            for name, d in (("q_conv1d", H * DK), ("k_conv1d", n * H * DK), ("v_conv1d", n * H * DV)):
                setattr(self, name, nn.Conv1d(d, d, conv, groups=d, padding=conv - 1, bias=False))
        self.g_proj = nn.Linear(C, H * DV, bias=False) if out_gate else None
        self.o_norm = RMSNorm(DV, eps)
        self.o_proj = nn.Linear(H * DV, C, bias=False)

    def inp(self, x, proj, conv):
        p = proj(x)
        if self.conv:
            p = conv(p.transpose(1, 2))[..., : x.shape[1]].transpose(1, 2)
        return F.silu(p)

    def forward(self, x, h0):
        Bx, Tx, _ = x.shape
        H, DK, DV, n = self.H, self.DK, self.DV, self.n
        q = l2norm(self.inp(x, self.q_proj, getattr(self, "q_conv1d", None)).reshape(Bx, Tx, H, DK))
        k = l2norm(self.inp(x, self.k_proj, getattr(self, "k_conv1d", None)).reshape(Bx, Tx * n, H, DK))
        v = self.inp(x, self.v_proj, getattr(self, "v_conv1d", None)).reshape(Bx, Tx * n, H, DV)
        beta = self.b_proj(x).sigmoid() * (2.0 if self.neg else 1.0)
        beta = beta.reshape(Bx, Tx * n, H)
        g = -self.A_log.exp() * F.softplus(self.a_proj(x) + self.dt_bias) if self.a_proj is not None else None
        S, outs = h0, []
        for t in range(Tx):
            if g is not None:
                S = S * g[:, t].exp()[..., None, None]
            for s in range(n):
                kk, vv, bb = k[:, t * n + s], v[:, t * n + s], beta[:, t * n + s]
                u = bb[..., None] * (vv - torch.einsum("bhk,bhkv->bhv", kk, S))
                S = S + torch.einsum("bhk,bhv->bhkv", kk, u)
            outs.append(torch.einsum("bhk,bhkv->bhv", q[:, t] * DK ** -0.5, S))
        o = self.o_norm(torch.stack(outs, 1))
        if self.g_proj is not None:
            o = o * F.silu(self.g_proj(x).reshape(Bx, Tx, H, DV))
        return self.o_proj(o.reshape(Bx, Tx, H * DV)), S, None


class LinearAttention(nn.Module):
    """fla's LinearAttention with an identity or elu+1 feature map, and ReBased's learnable
    quadratic (LayerNorm then the outer product), optionally normalized by the key sum."""

    def __init__(self, C, H, DK, DV, fmap, normalize, output_norm, eps=1e-5):
        super().__init__()
        self.H, self.DK, self.DV, self.fmap, self.normalize, self.eps = H, DK, DV, fmap, normalize, eps
        self.q_proj = nn.Linear(C, H * DK, bias=False)
        self.k_proj = nn.Linear(C, H * DK, bias=False)
        self.v_proj = nn.Linear(C, H * DV, bias=False)
        if fmap == 2:
            self.feature_map = nn.Module()
            self.feature_map.gamma = nn.Parameter(1.0 + 0.2 * torch.randn(DK))
            self.feature_map.beta = nn.Parameter(0.2 * torch.randn(DK))
        self.norm = RMSNorm(DV, eps) if output_norm else None
        self.o_proj = nn.Linear(H * DV, C, bias=False)

    def phi(self, x):
        if self.fmap == 1:
            return F.elu(x) + 1
        if self.fmap == 2:
            z = F.layer_norm(x, (self.DK,), self.feature_map.gamma, self.feature_map.beta, self.eps)
            return (z[..., :, None] * z[..., None, :]).flatten(-2)
        return x

    def forward(self, x, h0, c0):
        Bx, Tx, _ = x.shape
        H, DV = self.H, self.DV
        q = self.phi(self.q_proj(x).reshape(Bx, Tx, H, self.DK))
        k = self.phi(self.k_proj(x).reshape(Bx, Tx, H, self.DK))
        v = self.v_proj(x).reshape(Bx, Tx, H, DV)
        scale = q.shape[-1] ** -0.5
        S, z, outs = h0, c0, []
        for t in range(Tx):
            S = S + torch.einsum("bhk,bhv->bhkv", k[:, t], v[:, t])
            z = z + k[:, t]
            o = torch.einsum("bhk,bhkv->bhv", q[:, t] * scale, S)
            if self.normalize:
                o = o / ((q[:, t] * scale * z).sum(-1, keepdim=True) + self.eps)
            outs.append(o)
        o = torch.stack(outs, 1)
        if self.norm is not None:
            o = self.norm(o)
        return self.o_proj(o.reshape(Bx, Tx, H * DV)), S, z if self.normalize else None


def emit(out, name, t):
    vals = ", ".join(f"{v:.9e}f" for v in t.detach().reshape(-1).tolist())
    out.append(f"static const float {name}[{max(t.numel(), 1)}] = {{{vals if t.numel() else '0'}}};")


# (tag, attn, C, H, DK, DV, n, conv, forget, neg, out_gate, fmap, normalize, output_norm)
CONFIGS = [
    ("deltanet", 0, 6, 2, 3, 3, 1, 4, 0, 0, 0, 0, 0, 0),
    ("gated", 0, 6, 2, 3, 4, 1, 4, 1, 0, 1, 0, 0, 0),
    ("product", 0, 6, 2, 3, 4, 2, 3, 1, 1, 1, 0, 0, 0),
    ("la_elu", 1, 6, 2, 3, 3, 1, 0, 0, 0, 0, 1, 1, 0),
    ("la_identity", 1, 6, 2, 3, 3, 1, 0, 0, 0, 0, 0, 0, 1),
    ("rebased", 1, 6, 2, 3, 3, 1, 0, 0, 0, 0, 2, 1, 0),
]

out = [f"/* generated by tests/gen_delta_fixtures.py (PyTorch {torch.__version__}): do not edit */",
       f"enum {{ DELTA_FX_B = {B}, DELTA_FX_T = {T} }};",
       "typedef struct { const char *name; const float *value, *grad; } delta_fx_param;"]
tables = []
for ci, (tag, attn, C, H, DK, DV, n, conv, forget, neg, gate, fmap, normalize, onorm) in enumerate(CONFIGS):
    torch.manual_seed(ci)
    if attn:
        net = LinearAttention(C, H, DK, DV, fmap, normalize, onorm)
        Fdim = DK * DK if fmap == 2 else DK
    else:
        net = DeltaNetFamily(C, H, DK, DV, n, forget, neg, conv, gate)
        Fdim = DK
    x = torch.randn(B, T, C)
    h0 = 0.5 * torch.randn(B, H, Fdim, DV)
    c0 = torch.rand(B, H, Fdim) + 0.5
    net = net.double()
    xs, h0s, c0s = (t.double().requires_grad_() for t in (x, h0, c0))
    y, hn, cn = net(xs, h0s, c0s) if attn else net(xs, h0s)
    if cn is None:
        cn = torch.zeros(B, H, Fdim, dtype=torch.double)
    wy, wh, wc = torch.randn_like(y), torch.randn_like(hn), torch.randn_like(cn)
    ((y * wy).sum() + (hn * wh).sum() + (cn * wc).sum()).backward()
    names = []
    for name, p in net.named_parameters():
        cname = f"{tag}_fx_{name.replace('.', '_')}"
        emit(out, cname, p)
        emit(out, cname + "_grad", p.grad)
        names.append(f'{{"net.{name}", {cname}, {cname}_grad}}')
    out.append(f"static const delta_fx_param {tag}_fx_params[] = {{\n    " + ",\n    ".join(names) + "};")
    c0_grad = c0s.grad if attn and normalize else torch.zeros_like(c0)
    for nm, t in [("x", xs), ("h0", h0s), ("c0", c0s), ("y", y), ("hn", hn), ("cn", cn), ("wy", wy), ("wh", wh),
                  ("wc", wc), ("x_grad", xs.grad), ("h0_grad", h0s.grad), ("c0_grad", c0_grad)]:
        emit(out, f"{tag}_fx_{nm}", t)
    fields = ", ".join(str(v) for v in (attn, C, H, DK, DV, n, conv, forget, neg, gate, fmap, normalize, onorm))
    arrays = ", ".join(f"{tag}_fx_{nm}" for nm in ("x", "h0", "c0", "y", "hn", "cn", "wy", "wh", "wc", "x_grad",
                                                   "h0_grad", "c0_grad"))
    tables.append(f'    {{"{tag}", {fields}, {tag}_fx_params, {len(names)}, {arrays}}}')
out.append("""/* attn, C, H, DK, DV, n, conv, forget, neg, out_gate, feature map, normalize, output norm */
typedef struct {
    const char *tag;
    int attn, C, H, DK, DV, n, conv, forget, neg, out_gate, fmap, normalize, output_norm;
    const delta_fx_param *params;
    int nparams;
    const float *x, *h0, *c0, *y, *hn, *cn, *wy, *wh, *wc, *x_grad, *h0_grad, *c0_grad;
} delta_fx;""")
out.append("static const delta_fx delta_fixtures[] = {\n" + ",\n".join(tables) + "};")
with open("tests/fixtures/delta_fixtures.h", "w") as f:
    f.write("\n".join(out) + "\n")
