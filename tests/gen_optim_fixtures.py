#!/usr/bin/env python3
"""Reference trajectories for the optimizers of seq.h section 11.

Run from the repository root with the system interpreter:
    /usr/bin/python3 tests/gen_optim_fixtures.py
It rewrites tests/fixtures/optim_fixtures.h, which seq_optim_test.c embeds, so the C
suite never needs torch.

The problem: four parameter tensors in this order, A (2,3), b (4,), C (2,2,3), c (3,) --
25 floats -- on a noisy quadratic. At step t the gradient is curv * (w - target) +
noise[t] and the lr is base_lr * lr_scale[t]. Weight decay is scaled per tensor by
DECAY_MULT (seq: the tensor's decay multiplier; torch: one parameter group per tensor).
Every reference runs in float32.
Optimizers torch 1.13 has (SGD, Adam, AdamW, AMSGrad) run as torch.optim; the others
are written out below from their papers' pseudocode.
"""
import math
import os

import torch

STEPS = 16
SHAPES = [(2, 3), (4,), (2, 2, 3), (3,)]
DECAY_MULT = [1.0, 0.0, 0.5, 0.0]
SIZES = [math.prod(s) for s in SHAPES]
OFFSETS = [sum(SIZES[:i]) for i in range(len(SIZES))]
N = sum(SIZES)
torch.manual_seed(20240607)
f32 = torch.float32
W0 = torch.randn(N, dtype=f32)
CURV = 0.5 + 1.5 * torch.rand(N, dtype=f32)
TARGET = torch.randn(N, dtype=f32)
NOISE = 0.5 * torch.randn(STEPS, N, dtype=f32)
LR_SCALE = (0.75 + 0.5 * torch.rand(STEPS, dtype=f32))
DECAY = torch.cat([torch.full((n,), d, dtype=f32) for n, d in zip(SIZES, DECAY_MULT)])  # per element


def grad_at(w, t):
    return CURV * (w - TARGET) + NOISE[t]


def lr_at(base, t):
    """The step's lr exactly as the C test forms it: float(base) * lr_scale[t] in f32."""
    return float(torch.tensor(base, dtype=f32) * LR_SCALE[t])


def split(w):
    """Views of the flat vector as the tensors."""
    return [w[o:o + n].view(s) for o, n, s in zip(OFFSETS, SIZES, SHAPES)]


# --- torch.optim ------------------------------------------------------------------------

def run_torch(cls, base_lr, wd, **kw):
    ps = [x.clone().requires_grad_(True) for x in split(W0)]
    opt = cls([{"params": [p], "weight_decay": wd * d} for p, d in zip(ps, DECAY_MULT)], lr=base_lr, **kw)
    flat = lambda: torch.cat([p.detach().reshape(-1) for p in ps])
    traj = []
    for t in range(STEPS):
        for p, g in zip(ps, split(grad_at(flat(), t))):
            p.grad = g.clone()
        for group in opt.param_groups:
            group["lr"] = lr_at(base_lr, t)
        opt.step()
        traj.append(flat().clone())
    return torch.stack(traj)


# --- references from the papers ---------------------------------------------------------

def run_custom(step_fn, base_lr, state):
    w = W0.clone()
    traj = []
    for t in range(STEPS):
        g = grad_at(w, t)
        w = step_fn(w, g, lr_at(base_lr, t), t + 1, state)
        traj.append(w.clone())
    return torch.stack(traj)


def adabelief(b1, b2, eps, wd, decoupled):
    """adabelief-pytorch 0.2 (rectify off): s accumulates (g - m)^2 + eps."""
    def step(w, g, lr, t, st):
        m, s = st.setdefault("m", torch.zeros(N)), st.setdefault("s", torch.zeros(N))
        if decoupled:
            w = w * (1 - lr * wd * DECAY)
        else:
            g = g + wd * DECAY * w
        m.mul_(b1).add_((1 - b1) * g)
        s.mul_(b2).add_((1 - b2) * (g - m) ** 2).add_(eps)
        denom = s.sqrt() / math.sqrt(1 - b2 ** t) + eps
        return w - lr / (1 - b1 ** t) * m / denom
    return step


def adafactor(b1, decay_rate, eps1, eps2, clip, wd, relative, scale_param, clipped):
    """Shazeer & Stern (2018), Algorithms 4 and 5: R, C are row and column sums of
    G^2 + eps1 (EMA'd with beta2_t = 1 - t^-decay_rate), V = R C / sum(R); U = G / sqrt(V)
    is clipped by max(1, RMS(U)/d) and scaled by alpha_t = rho_t * max(eps2, RMS(X)).
    First moment (optional): an EMA of the scaled update, as fairseq. A 3-D tensor is
    factored per index of its first dimension."""
    def step(w, g, lr, t, st):
        beta2 = 1.0 - t ** (-decay_rate)
        rho = min(1e-2, 1.0 / math.sqrt(t)) if relative else lr
        out = []
        for k, (wt, gt) in enumerate(zip(split(w), split(g))):
            key = "v%d" % k
            g2 = gt * gt + eps1
            if gt.dim() >= 2:
                R = st.get(key + "r", torch.zeros(gt.shape[:-1]))
                C = st.get(key + "c", torch.zeros(gt.shape[:-2] + gt.shape[-1:]))
                R = beta2 * R + (1 - beta2) * g2.sum(dim=-1)
                C = beta2 * C + (1 - beta2) * g2.sum(dim=-2)
                st[key + "r"], st[key + "c"] = R, C
                V = R.unsqueeze(-1) * C.unsqueeze(-2) / R.sum(dim=-1, keepdim=True).unsqueeze(-1)
            else:
                V = beta2 * st.get(key, torch.zeros(gt.shape)) + (1 - beta2) * g2
                st[key] = V
            U = gt / V.sqrt()
            rms_u = U.pow(2).mean().sqrt().item()
            if rms_u > clip:
                clipped.append(t)
            alpha = rho * (max(eps2, wt.pow(2).mean().sqrt().item()) if scale_param else 1.0)
            upd = alpha * U / max(1.0, rms_u / clip)
            if b1 > 0:
                m = st.get("m%d" % k, torch.zeros(gt.shape))
                upd = b1 * m + (1 - b1) * upd
                st["m%d" % k] = upd
            out.append((wt - alpha * wd * DECAY_MULT[k] * wt - upd).reshape(-1))
        return torch.cat(out)
    return step


def ademamix(b1, b2, b3, alpha, eps, wd, warmup):
    """Pagliardini et al. (2024), Algorithm 1 with the alpha and beta3 schedulers."""
    def step(w, g, lr, t, st):
        m1, m2, v = (st.setdefault(k, torch.zeros(N)) for k in ("m1", "m2", "v"))
        a, b3t = alpha, b3
        if t < warmup:
            a = t * alpha / warmup
            z = t / warmup
            b3t = min(math.exp(math.log(b1) * math.log(b3) / ((1 - z) * math.log(b3) + z * math.log(b1))), b3)
        m1.mul_(b1).add_((1 - b1) * g)
        m2.mul_(b3t).add_((1 - b3t) * g)
        v.mul_(b2).add_((1 - b2) * g * g)
        num = m1 / (1 - b1 ** t) + a * m2
        denom = (v / (1 - b2 ** t)).sqrt() + eps
        return w * (1 - lr * wd * DECAY) - lr * num / denom
    return step


def lion(b1, b2, wd):
    """Chen et al. (2023), Program 1."""
    def step(w, g, lr, t, st):
        m = st.setdefault("m", torch.zeros(N))
        upd = torch.sign(b1 * m + (1 - b1) * g)
        m.mul_(b2).add_((1 - b2) * g)
        return w * (1 - lr * wd * DECAY) - lr * upd
    return step


class Xoshiro:
    """seq_rng: xoshiro256** seeded through splitmix64, and seq_rng_below."""
    MASK = (1 << 64) - 1

    def __init__(self, seed):
        self.s = []
        x = seed
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & self.MASK
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.MASK
            self.s.append(z ^ (z >> 31))

    def u64(self):
        s, M = self.s, self.MASK
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M
        result = (rotl((s[1] * 5) & M, 7) * 9) & M
        t = (s[1] << 17) & M
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def below(self, n):
        threshold = ((1 << 64) - n) % n
        while True:
            x = self.u64()
            if x >= threshold:
                return x % n


def frugal(rho, period, b1, b2, eps, wd, seed, chosen):
    """Zmushko et al. (2024), blockwise: every `period` steps a random round(rho * blocks)
    of the blocks (selection sampling on seq_rng) get AdamW with fresh state when they
    enter; the others take signSGD steps."""
    rng = Xoshiro(seed)
    blocks = [(o, o + n) for o, n in zip(OFFSETS, SIZES)]
    k = int(math.floor(rho * len(blocks) + 0.5))

    def step(w, g, lr, t, st):
        if (t - 1) % period == 0:
            need, new = k, []
            for i in range(len(blocks)):
                take = rng.below(len(blocks) - i) < need
                need -= take
                new.append(take)
            old = st.get("active", [False] * len(blocks))
            for i, (lo, hi) in enumerate(blocks):
                if new[i] and not old[i]:
                    st["m%d" % i], st["v%d" % i], st["t%d" % i] = torch.zeros(hi - lo), torch.zeros(hi - lo), 0
            st["active"] = new
            chosen.append(list(new))
        w = w * (1 - lr * wd * DECAY)
        for i, (lo, hi) in enumerate(blocks):
            gi = g[lo:hi]
            if st["active"][i]:
                st["t%d" % i] += 1
                ti = st["t%d" % i]
                m, v = st["m%d" % i], st["v%d" % i]
                m.mul_(b1).add_((1 - b1) * gi)
                v.mul_(b2).add_((1 - b2) * gi * gi)
                denom = v.sqrt() / math.sqrt(1 - b2 ** ti) + eps
                w[lo:hi] -= lr / (1 - b1 ** ti) * m / denom
            else:
                w[lo:hi] -= lr * torch.sign(gi)
        return w
    return step


def sam_sgd(rho, adaptive, momentum):
    """Foret et al. (2021) over SGD with momentum; adaptive: ASAM's e = rho w^2 g / ||w g||."""
    def step(w, g, lr, t, st):
        T = w.abs() if adaptive else torch.ones(N)
        e = rho * T * T * g / (T * g).norm()
        g2 = grad_at(w + e, t - 1)
        buf = st.get("buf")
        buf = g2.clone() if buf is None else momentum * buf + g2
        st["buf"] = buf
        return w - lr * buf
    return step


# --- the cases ---------------------------------------------------------------------------

CASES = []  # (name, comment, trajectory)


def case(name, comment, traj):
    CASES.append((name, comment, traj))


case("sgd", "SGD lr 0.1, weight_decay 0.05",
     run_torch(torch.optim.SGD, 0.1, 0.05))
case("sgd_momentum", "SGD lr 0.05, momentum 0.9, dampening 0.2, weight_decay 0.05",
     run_torch(torch.optim.SGD, 0.05, 0.05, momentum=0.9, dampening=0.2))
case("sgd_nesterov", "SGD lr 0.05, momentum 0.8, nesterov, weight_decay 0.05",
     run_torch(torch.optim.SGD, 0.05, 0.05, momentum=0.8, nesterov=True))
case("adam_l2", "Adam lr 0.05, betas (0.9, 0.99), eps 1e-8, weight_decay 0.1 (L2)",
     run_torch(torch.optim.Adam, 0.05, 0.1, betas=(0.9, 0.99), eps=1e-8))
case("adamw", "AdamW lr 0.05, betas (0.9, 0.999), eps 1e-8, weight_decay 0.1",
     run_torch(torch.optim.AdamW, 0.05, 0.1, betas=(0.9, 0.999), eps=1e-8))
case("adamw_amsgrad", "AdamW lr 0.05, betas (0.8, 0.9), eps 1e-8, weight_decay 0.1, amsgrad",
     run_torch(torch.optim.AdamW, 0.05, 0.1, betas=(0.8, 0.9), eps=1e-8, amsgrad=True))
case("adabelief", "AdaBelief lr 0.05, betas (0.9, 0.999), eps 1e-16, weight_decay 0.1 decoupled",
     run_custom(adabelief(0.9, 0.999, 1e-16, 0.1, True), 0.05, {}))
case("adabelief_l2", "AdaBelief lr 0.05, betas (0.8, 0.99), eps 1e-8, weight_decay 0.1 (L2)",
     run_custom(adabelief(0.8, 0.99, 1e-8, 0.1, False), 0.05, {}))
clipped_rel, clipped_ext = [], []
case("adafactor_relative", "Adafactor relative step, scale_parameter, no beta1, clip 1",
     run_custom(adafactor(0.0, 0.8, 1e-30, 1e-3, 1.0, 0.0, True, True, clipped_rel), 0.0, {}))
case("adafactor_external", "Adafactor lr 0.05, beta1 0.9, clip 0.5, weight_decay 0.1, no scale_parameter",
     run_custom(adafactor(0.9, 0.8, 1e-30, 1e-3, 0.5, 0.1, False, False, clipped_ext), 0.05, {}))
assert clipped_rel and clipped_ext, "update clipping must take part in both Adafactor cases"
case("ademamix", "AdEMAMix lr 0.05, betas (0.9, 0.99, 0.999), alpha 3, eps 1e-8, weight_decay 0.1, warmup 6",
     run_custom(ademamix(0.9, 0.99, 0.999, 3.0, 1e-8, 0.1, 6), 0.05, {}))
case("lion", "Lion lr 0.01, betas (0.9, 0.99), weight_decay 0.1",
     run_custom(lion(0.9, 0.99, 0.1), 0.01, {}))
chosen = []
case("frugal", "FRUGAL rho 0.5, period 3, betas (0.9, 0.99), eps 1e-8, weight_decay 0.1, rng seed 7",
     run_custom(frugal(0.5, 3, 0.9, 0.99, 1e-8, 0.1, 7, chosen), 0.05, {}))
moves = [(a, b) for prev, cur in zip(chosen, chosen[1:]) for a, b in zip(prev, cur)]
assert (True, True) in moves and (False, True) in moves and (True, False) in moves, \
    "the FRUGAL case should see tensors stay, enter and leave: %s" % chosen
case("sam", "SAM rho 0.1 over SGD lr 0.05, momentum 0.9",
     run_custom(sam_sgd(0.1, False, 0.9), 0.05, {}))
case("asam", "ASAM rho 0.5 over SGD lr 0.05, momentum 0.9",
     run_custom(sam_sgd(0.5, True, 0.9), 0.05, {}))


# --- output ------------------------------------------------------------------------------

def c_float(v):
    s = "%.9g" % v
    return s + ("f" if ("." in s or "e" in s) else ".0f")


def c_array(name, t):
    """A 1-D or 2-D float array, one row a line."""
    row = lambda r: ", ".join(c_float(v) for v in r.tolist())
    dims = "".join("[%d]" % d for d in t.shape)
    body = row(t) if t.dim() == 1 else ",\n    ".join("{" + row(r) + "}" for r in t)
    return "static const float %s%s = {\n    %s};" % (name, dims, body)


out = ["/* Generated by tests/gen_optim_fixtures.py (PyTorch %s); do not edit. */" % torch.__version__,
       "#ifndef SEQ_OPTIM_FIXTURES_H",
       "#define SEQ_OPTIM_FIXTURES_H",
       "#define OPTIM_FIX_STEPS %d" % STEPS,
       "#define OPTIM_FIX_N %d" % N,
       c_array("optim_fix_w0", W0),
       c_array("optim_fix_curv", CURV),
       c_array("optim_fix_target", TARGET),
       c_array("optim_fix_noise", NOISE),
       c_array("optim_fix_lr_scale", LR_SCALE)]
for name, comment, traj in CASES:
    assert torch.isfinite(traj).all()
    out.append("/* %s: weights after each step */" % comment)
    out.append(c_array("optim_fix_" + name, traj))
out.append("#endif")
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "optim_fixtures.h")
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    f.write("\n".join(out) + "\n")
print("wrote", path, "with", len(CASES), "trajectories")
