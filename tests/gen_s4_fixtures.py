"""Writes tests/fixtures/s4_fixtures.h: S4D (as the reference s4d.py: Vandermonde kernel,
FFT convolution, D skip), LSSL (HiPPO-LegS, bilinear rule, kernel by powers of Abar) and
H3 (as the reference h3.py with a shift kernel B = e_1 and the S4D kernel above), written
in plain torch ops in float64 on float32-rounded inputs. Each records the weights, the
input, the output y, the final states, and the gradients of
    loss = sum(y*wy) + sum(hn*wh) [+ sum(cn*wc)]
with respect to every weight and the input. Final states come from the recurrence.
Run: /usr/bin/python3 tests/gen_s4_fixtures.py"""
import math
import torch

B, T = 2, 6
torch.manual_seed(0)


def f32(t):
    """A float32 value used in float64: both sides see the same numbers."""
    return t.float().double().requires_grad_(True)


def emit(out, name, t):
    vals = ", ".join(f"{v:.9e}f" for v in t.detach().reshape(-1).tolist())
    out.append(f"static const float {name}[{t.numel()}] = {{{vals}}};")


def causal_conv(u, k):
    """u (..., H, L) * k (H, L) causally, by FFT of size 2L."""
    L = u.shape[-1]
    return torch.fft.irfft(torch.fft.rfft(u, n=2 * L) * torch.fft.rfft(k, n=2 * L), n=2 * L)[..., :L]


def s4d_discrete(w):
    dt = torch.exp(w["kernel.log_dt"])
    A = -torch.exp(w["kernel.log_A_real"]) + 1j * w["kernel.A_imag"]
    dtA = A * dt.unsqueeze(-1)
    return A, dtA, torch.exp(dtA), (torch.exp(dtA) - 1.0) / A


def s4d_kernel(w, L):
    C = torch.view_as_complex(w["kernel.C"])
    A, dtA, _, _ = s4d_discrete(w)
    powers = torch.exp(dtA.unsqueeze(-1) * torch.arange(L, dtype=torch.float64))  # (H N L)
    return 2 * torch.einsum("hn,hnl->hl", C * (torch.exp(dtA) - 1.0) / A, powers).real


def diag_final_state(u, Abar, Bbar):
    """u (B, C, L) through s = Abar s + Bbar u_t, Abar/Bbar (C, N) complex -> (B, C, N, 2)."""
    s = torch.zeros(u.shape[0], u.shape[1], Abar.shape[-1], dtype=torch.complex128)
    for t in range(u.shape[-1]):
        s = Abar * s + Bbar * u[..., t].unsqueeze(-1)
    return torch.view_as_real(s)


def s4d(w, x):
    u = x.transpose(1, 2)  # (B H L)
    y = causal_conv(u, s4d_kernel(w, T)) + u * w["D"].unsqueeze(-1)
    _, _, Abar, Bbar = s4d_discrete(w)
    return y.transpose(1, 2), diag_final_state(u, Abar, Bbar), None


def hippo_legs(N):
    n = torch.arange(N, dtype=torch.float64)
    q = torch.sqrt(2 * n + 1)
    A = -torch.tril(q.unsqueeze(1) * q.unsqueeze(0), -1) - torch.diag(n + 1)
    return A, q


def lssl(w, x):
    H, N = w["C"].shape
    A, Bv = hippo_legs(N)
    dt = torch.exp(w["log_dt"]).view(H, 1, 1)
    I = torch.eye(N, dtype=torch.float64)
    M = I - dt / 2 * A
    Abar = torch.linalg.solve(M, I + dt / 2 * A)  # (H N N)
    Bbar = torch.linalg.solve(M, (dt[:, :, 0] * Bv).unsqueeze(-1))[..., 0]  # (H N)
    v, powers = Bbar, []
    for _ in range(T):
        powers.append(v)
        v = torch.einsum("hnk,hk->hn", Abar, v)
    K = torch.einsum("hn,lhn->hl", w["C"], torch.stack(powers))
    u = x.transpose(1, 2)
    y = causal_conv(u, K) + u * w["D"].unsqueeze(-1)
    s = torch.zeros(x.shape[0], H, N, dtype=torch.float64)
    for t in range(T):
        s = torch.einsum("hnk,bhk->bhn", Abar, s) + Bbar * u[..., t].unsqueeze(-1)
    return y.transpose(1, 2), s, None


def h3(w, x, d):
    D = x.shape[-1]
    H = D // d
    lin = lambda name, t: t @ w[name + ".weight"].T + w[name + ".bias"]
    q, k, v = [lin(n, x).transpose(1, 2) for n in ("q_proj", "k_proj", "v_proj")]  # (B D L)
    k_og = k
    N = w["ssm_k_kernel.kernel.C"].shape[-1]
    shift = torch.nn.functional.pad(w["ssm_k_kernel.kernel.C"][0], (0, max(0, T - N)))[:, :T]  # B = e_1: kernel C
    k = causal_conv(k, shift) + w["ssm_k_D"].unsqueeze(-1) * k
    heads = lambda t: t.reshape(t.shape[0], H, d, T).permute(0, 2, 1, 3)  # b (h d) l -> b d h l
    kv = heads(k).unsqueeze(2) * heads(v).unsqueeze(1)  # b d1 d2 h l
    y = causal_conv(kv, s4d_kernel(w, T)) + kv * w["D"].unsqueeze(-1)
    y = (y * heads(q).unsqueeze(2)).sum(1).reshape(x.shape[0], d * H, T)  # sum over d1 -> b (d2 h) l
    out = lin("output_linear", y.transpose(1, 2))
    _, _, Abar, Bbar = s4d_discrete(w)
    kv_c = kv.permute(0, 3, 1, 2, 4).reshape(x.shape[0], H * d * d, T)  # channel (h*d+i)*d+j
    hn = diag_final_state(kv_c, Abar.repeat_interleave(d * d, 0), Bbar.repeat_interleave(d * d, 0))
    cn = torch.stack([k_og[..., T - 1 - n] for n in range(N)], -1)  # register: entry n = k_{T-1-n}
    return out, hn, cn


def fixture(out, tag, weights, fn, C):
    w = {n: f32(t) for n, t in weights.items()}
    x = f32(torch.randn(B, T, C))
    y, hn, cn = fn(w, x)
    wy, wh = torch.randn_like(y), torch.randn_like(hn)
    loss = (y * wy).sum() + (hn * wh).sum()
    wc = torch.randn_like(cn) if cn is not None else torch.zeros(1, dtype=torch.float64)
    if cn is not None:
        loss = loss + (cn * wc).sum()
    else:
        cn = torch.zeros(1, dtype=torch.float64)
    loss.backward()
    names = []
    for name, t in w.items():
        cname = f"{tag}_fx_" + name.replace(".", "_")
        emit(out, cname, t)
        emit(out, cname + "_grad", t.grad)
        names.append(f'{{"{tag}.{name}", {cname}, {cname}_grad}}')
    out.append(f"static const s4_fx_param {tag}_fx_params[] = {{\n    " + ",\n    ".join(names) + "};")
    for n, t in [("x", x), ("x_grad", x.grad), ("y", y), ("hn", hn), ("cn", cn), ("wy", wy), ("wh", wh), ("wc", wc)]:
        emit(out, f"{tag}_fx_{n}", t)


def log_dt(H):
    return torch.rand(H) * (math.log(0.5) - math.log(0.05)) + math.log(0.05)


def s4d_weights(H, N):
    return {"kernel.log_dt": log_dt(H), "kernel.C": torch.randn(H, N // 2, 2) * math.sqrt(0.5),
            "kernel.log_A_real": math.log(0.5) + 0.3 * torch.randn(H, N // 2),
            "kernel.A_imag": math.pi * torch.arange(N // 2).repeat(H, 1) + 0.1 * torch.randn(H, N // 2),
            "D": torch.randn(H)}


S4D_H, S4D_N, LSSL_H, LSSL_N, H3_D, H3_N, H3_HEAD = 3, 4, 2, 4, 4, 4, 2
out = ["/* generated by tests/gen_s4_fixtures.py (PyTorch %s): do not edit */" % torch.__version__,
       f"enum {{ S4_FX_B = {B}, S4_FX_T = {T}, S4D_FX_H = {S4D_H}, S4D_FX_N = {S4D_N}, LSSL_FX_H = {LSSL_H}, "
       f"LSSL_FX_N = {LSSL_N}, H3_FX_D = {H3_D}, H3_FX_N = {H3_N}, H3_FX_HEAD = {H3_HEAD} }};",
       "typedef struct { const char *name; const float *value, *grad; } s4_fx_param;"]
fixture(out, "s4d", s4d_weights(S4D_H, S4D_N), s4d, S4D_H)
fixture(out, "lssl", {"log_dt": log_dt(LSSL_H), "C": torch.randn(LSSL_H, LSSL_N), "D": torch.randn(LSSL_H)}, lssl,
        LSSL_H)
h3w = {}
bound = 1 / math.sqrt(H3_D)
for p in ("q_proj", "k_proj", "v_proj", "output_linear"):
    h3w[p + ".weight"] = (torch.rand(H3_D, H3_D) * 2 - 1) * bound
    h3w[p + ".bias"] = (torch.rand(H3_D) * 2 - 1) * bound
h3w["ssm_k_kernel.kernel.C"] = (torch.rand(1, H3_D, H3_N) * 2 - 1) / math.sqrt(H3_N)
h3w["ssm_k_D"] = torch.randn(H3_D)
h3w.update(s4d_weights(H3_D // H3_HEAD, H3_N))
fixture(out, "h3", h3w, lambda w, x: h3(w, x, H3_HEAD), H3_D)
with open("tests/fixtures/s4_fixtures.h", "w") as f:
    f.write("\n".join(out) + "\n")
