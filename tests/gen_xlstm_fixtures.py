"""Writes tests/fixtures/xlstm_fixtures.h: the sLSTM, the xLSTM 7B mLSTM layer, minGRU and
minLSTM written out in plain PyTorch ops (float64), with random weights, inputs and initial
states, their outputs and final states, and the gradients of
    loss = sum(y*wy) + sum(hn*wh) [+ sum(cn*wc)]
with respect to every weight, x and the initial states. The references follow the papers
and the official code: the sLSTM pointwise cell of NX-AI/xlstm (vanilla backend), the
mLSTMLayer of xLSTM 7B with the recurrent step of its mlstm_kernels, and the equations of
"Were RNNs All We Needed?". Run: /usr/bin/python3 tests/gen_xlstm_fixtures.py"""

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
B, T = 2, 5


def emit(out, name, t):
    vals = ", ".join(f"{v:.9e}f" for v in t.detach().reshape(-1).tolist())
    out.append(f"static const float {name}[{max(t.numel(), 1)}] = {{{vals if t.numel() else '0.0f'}}};")


def slstm(p, x, s0, NH, exp_forget):
    """sLSTM, weight_ih rows (NH,4,DH), recurrent_kernel (NH,DH,4,DH), bias (NH,4,DH); state (4,B,H)."""
    H = p["recurrent_kernel"].shape[0] * p["recurrent_kernel"].shape[1]
    DH = H // NH
    h, c, n, m = s0.unbind(0)
    ys = []
    for t in range(x.shape[1]):
        ry = torch.einsum("bkd,kdgj->bkgj", h.reshape(-1, NH, DH), p["recurrent_kernel"])
        raw = (x[:, t] @ p["weight_ih"].T).reshape(-1, NH, 4, DH) + ry + p["bias"]
        i, f, z, o = (raw[:, :, g].reshape(-1, H) for g in range(4))
        logfplusm = m + (f if exp_forget else F.logsigmoid(f))
        mnew = torch.max(i, logfplusm)  # the states given here have n > 0 everywhere
        ig, fg = torch.exp(i - mnew), torch.exp(logfplusm - mnew)
        c = fg * c + ig * torch.tanh(z)
        n = fg * n + ig
        m = mnew
        h = torch.sigmoid(o) * c / n
        ys.append(h)
    return torch.stack(ys, 1), torch.stack([h, c, n, m]), None


def soft_cap(v, cap):
    return cap * torch.tanh(v / cap) if cap > 0 else v


def mlstm(p, x, C0, nm0, NH, DK, DV, cap, eps, norm_eps):
    """xLSTM 7B mLSTMLayer (weight mode single, no biases but the gates') over the recurrent step."""
    Bx, Tx, _ = x.shape
    q = (x @ p["q.weight"].T).reshape(Bx, Tx, NH, DK)
    k = (x @ p["k.weight"].T).reshape(Bx, Tx, NH, DK)
    v = (x @ p["v.weight"].T).reshape(Bx, Tx, NH, DV)
    o = x @ p["ogate_preact.weight"].T
    ig = soft_cap(x @ p["igate_preact.weight"].T + p["igate_preact.bias"], cap)
    fg = soft_cap(x @ p["fgate_preact.weight"].T + p["fgate_preact.bias"], cap)
    C, n, m = C0, nm0[..., :DK], nm0[..., DK]
    hs = []
    for t in range(Tx):
        qt = q[:, t] * DK ** -0.5
        flog = F.logsigmoid(fg[:, t])
        mnew = torch.max(flog + m, ig[:, t])
        fa, ia = torch.exp(flog + m - mnew), torch.exp(ig[:, t] - mnew)
        C = fa[..., None, None] * C + ia[..., None, None] * (k[:, t, :, :, None] * v[:, t, :, None, :])
        n = fa[..., None] * n + ia[..., None] * k[:, t]
        m = mnew
        num = torch.einsum("bhd,bhde->bhe", qt, C)
        qn = (qt * n).sum(-1)
        den = torch.maximum(qn.abs(), torch.exp(-m)) + eps
        hs.append(num / den[..., None])
    h = torch.stack(hs, 1)  # (B,T,NH,DV)
    hc = h - h.mean(-1, keepdim=True)
    hn = (hc * torch.rsqrt(h.var(-1, keepdim=True, unbiased=False) + norm_eps)).reshape(Bx, Tx, NH * DV)
    y = (torch.sigmoid(o) * hn * p["multihead_norm.weight"]) @ p["out_proj.weight"].T
    return y, C, torch.cat([n, m[..., None]], -1)


def minrnn(p, x, h0, lstm):
    """minGRU / minLSTM, sequential, with the positive activation g."""
    def g(v):
        return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))
    h, ys = h0, []
    for t in range(x.shape[1]):
        xt = x[:, t]
        ht = g(xt @ p["linear_h.weight"].T + p["linear_h.bias"])
        if lstm:
            f = torch.sigmoid(xt @ p["linear_f.weight"].T + p["linear_f.bias"])
            i = torch.sigmoid(xt @ p["linear_i.weight"].T + p["linear_i.bias"])
            h = f / (f + i) * h + i / (f + i) * ht
        else:
            z = torch.sigmoid(xt @ p["linear_z.weight"].T + p["linear_z.bias"])
            h = (1 - z) * h + z * ht
        ys.append(h)
    return torch.stack(ys, 1), h, None


def fixture(out, tag, prefix, shapes, x_shape, s0_shape, c0_shape, run):
    torch.manual_seed(0)
    params = {k: (0.5 * torch.randn(*s)).requires_grad_() for k, s in shapes}
    x = torch.randn(*x_shape).requires_grad_()
    s0 = (0.5 * torch.randn(*s0_shape)).requires_grad_()
    c0 = (0.5 * torch.randn(*c0_shape)).requires_grad_()
    if tag == "slstm":  # the normalizer state is positive
        with torch.no_grad():
            s0[2] = 0.5 + s0[2].abs()
    y, hn, cn = run(params, x, s0, c0)
    wy, wh = torch.randn_like(y), torch.randn_like(hn)
    wc = torch.randn_like(cn) if cn is not None else torch.zeros(0)
    loss = (y * wy).sum() + (hn * wh).sum() + ((cn * wc).sum() if cn is not None else 0)
    loss.backward()
    names = []
    for k, t in params.items():
        cname = f"{tag}_fx_" + k.replace(".", "_")
        emit(out, cname, t)
        emit(out, cname + "_grad", t.grad)
        names.append(f'{{"{prefix}.{k}", {cname}, {cname}_grad, {t.numel()}}}')
    out.append(f"static const xl_fx_param {tag}_fx_params[] = {{\n    " + ",\n    ".join(names) + "};")
    none = torch.zeros(0)
    for n, t in [("x", x), ("h0", s0), ("c0", c0 if cn is not None else none), ("y", y), ("hn", hn),
                 ("cn", cn if cn is not None else none), ("wy", wy), ("wh", wh), ("wc", wc), ("x_grad", x.grad),
                 ("h0_grad", s0.grad), ("c0_grad", c0.grad if cn is not None else none)]:
        emit(out, f"{tag}_fx_{n}", t)


out = ["/* generated by tests/gen_xlstm_fixtures.py (PyTorch %s): do not edit */" % torch.__version__,
       f"enum {{ XL_FX_B = {B}, XL_FX_T = {T} }};",
       "typedef struct { const char *name; const float *value, *grad; int numel; } xl_fx_param;"]

# sLSTM: I = 3, H = 4 in 2 heads, sigmoid forget gate
fixture(out, "slstm", "slstm", [("weight_ih", (16, 3)), ("recurrent_kernel", (2, 2, 4, 2)), ("bias", (2, 4, 2))],
        (B, T, 3), (4, B, 4), (1,), lambda p, x, s0, c0: slstm(p, x, s0, 2, False))
# mLSTM: C = 4, NH = 2, DK = 2, DV = 3, cap 3, no biases but the gates'
fixture(out, "mlstm", "mlstm",
        [("q.weight", (4, 4)), ("k.weight", (4, 4)), ("v.weight", (6, 4)), ("ogate_preact.weight", (6, 4)),
         ("igate_preact.weight", (2, 4)), ("igate_preact.bias", (2,)), ("fgate_preact.weight", (2, 4)),
         ("fgate_preact.bias", (2,)), ("multihead_norm.weight", (6,)), ("out_proj.weight", (4, 6))],
        (B, T, 4), (B, 2, 2, 3), (B, 2, 3), lambda p, x, s0, c0: mlstm(p, x, s0, c0, 2, 2, 3, 3.0, 1e-6, 1e-6))
# minGRU and minLSTM: I = 3, H = 4
fixture(out, "mingru", "minrnn", [("linear_z.weight", (4, 3)), ("linear_z.bias", (4,)), ("linear_h.weight", (4, 3)),
                                  ("linear_h.bias", (4,))],
        (B, T, 3), (B, 4), (1,), lambda p, x, s0, c0: minrnn(p, x, s0, False))
fixture(out, "minlstm", "minrnn", [("linear_f.weight", (4, 3)), ("linear_f.bias", (4,)), ("linear_i.weight", (4, 3)),
                                   ("linear_i.bias", (4,)), ("linear_h.weight", (4, 3)), ("linear_h.bias", (4,))],
        (B, T, 3), (B, 4), (1,), lambda p, x, s0, c0: minrnn(p, x, s0, True))
with open("tests/fixtures/xlstm_fixtures.h", "w") as f:
    f.write("\n".join(out) + "\n")
