#!/usr/bin/env python3
"""PyTorch 1.13 reference values and gradients for the losses of seq.h section 9.

Run from the repository root with the system interpreter:
    /usr/bin/python3 tests/gen_losses_fixtures.py
It rewrites tests/fixtures/losses_fixtures.h; seq_losses_test.c embeds that header, so
the C suite itself never needs torch. Inputs are drawn here (fixed seed) and written
out next to the results computed from them.
"""
import torch
import torch.nn.functional as F

torch.manual_seed(1234)
torch.set_default_dtype(torch.float64)  # references in double; C compares in f32
lines = []


def c_float(v):
    s = "%.9g" % v
    return s + ("f" if ("." in s or "e" in s) else ".0f")


def emit(name, t, dtype="float"):
    vals = t.detach().reshape(-1).tolist()
    fmt = (lambda v: "%d" % v) if dtype == "int32_t" else c_float
    body = ", ".join(fmt(v) for v in vals)
    lines.append("static const %s %s[%d] = {%s};" % (dtype, name, len(vals), body))


def leaf(t):
    return t.clone().requires_grad_(True)


def run(loss_fn, *inputs):
    """Loss value and the gradient of every input, in order."""
    xs = [leaf(x) for x in inputs]
    loss = loss_fn(*xs)
    loss.backward()
    return [loss] + [x.grad for x in xs]


# --- cross entropy: logits (2,3,5) with the class dimension last, one position ignored
V = 5
ce_x = torch.randn(2, 3, V) * 2
ce_t = torch.randint(0, V, (2, 3))
ce_t[0, 2] = 3
ce_t3 = ce_t.clone()  # for ignore_index = 3: a class id that is ignored
ce_t[1, 0] = -100  # PyTorch's default ignore_index
emit("ce_logits", ce_x)
emit("ce_targets", ce_t, "int32_t")
emit("ce_targets3", ce_t3, "int32_t")
for tag, eps, ignore, t in (("plain", 0.0, -100, ce_t), ("smooth", 0.25, -100, ce_t), ("ign3", 0.1, 3, ce_t3)):
    loss, g = run(lambda x: F.cross_entropy(x.reshape(-1, V), t.reshape(-1), ignore_index=ignore,
                                            label_smoothing=eps), ce_x)
    emit("ce_%s_loss" % tag, loss.reshape(1))
    emit("ce_%s_grad" % tag, g)

# --- binary cross entropy with logits: gradients to logits and to the soft targets
bce_x = torch.randn(3, 4) * 2
bce_y = torch.rand(3, 4)
loss, gx, gy = run(F.binary_cross_entropy_with_logits, bce_x, bce_y)
for name, t in (("bce_logits", bce_x), ("bce_targets", bce_y), ("bce_loss", loss.reshape(1)),
                ("bce_grad_logits", gx), ("bce_grad_targets", gy)):
    emit(name, t)

# --- mse and huber (delta 0.7) on the same pair; differences on both sides of delta
reg_p = torch.randn(3, 4)
reg_t = torch.randn(3, 4)
emit("reg_pred", reg_p)
emit("reg_target", reg_t)
for tag, fn in (("mse", F.mse_loss), ("huber", lambda p, t: F.huber_loss(p, t, delta=0.7))):
    loss, gp, gt = run(fn, reg_p, reg_t)
    emit("%s_loss" % tag, loss.reshape(1))
    emit("%s_grad_pred" % tag, gp)
    emit("%s_grad_target" % tag, gt)

# --- BPR: pos (4), neg (4,3)
bpr_pos = torch.randn(4)
bpr_neg = torch.randn(4, 3)
loss, gp, gn = run(lambda p, n: -F.logsigmoid(p[:, None] - n).mean(), bpr_pos, bpr_neg)
for name, t in (("bpr_pos", bpr_pos), ("bpr_neg", bpr_neg), ("bpr_loss", loss.reshape(1)),
                ("bpr_grad_pos", gp), ("bpr_grad_neg", gn)):
    emit(name, t)

# --- PaLM z-loss, coeff 0.1, on the cross-entropy logits
loss, g = run(lambda x: 0.1 * torch.logsumexp(x, -1).pow(2).mean(), ce_x)
emit("zl_loss", loss.reshape(1))
emit("zl_grad", g)

# --- comp-sum losses from their definition through u = sum_{y' != y} exp(h_y' - h_y)
cs_x = torch.randn(6, V) * 1.5
cs_t = torch.randint(0, V, (6,))
emit("cs_logits", cs_x)
emit("cs_targets", cs_t, "int32_t")


def comp_sum(x, tau):
    hy = x.gather(1, cs_t[:, None])
    others = torch.ones_like(x).scatter(1, cs_t[:, None], 0.0)
    u = (torch.exp(x - hy) * others).sum(1)
    if tau == 1.0:
        return torch.log1p(u).mean()
    return (((1 + u) ** (1 - tau) - 1) / (1 - tau)).mean()


taus = (0.0, 0.5, 1.5, 2.0)
emit("cs_taus", torch.tensor(taus))
cs_loss, cs_grad = [], []
for tau in taus:
    loss, g = run(lambda x: comp_sum(x, tau), cs_x)
    cs_loss.append(loss.reshape(1))
    cs_grad.append(g)
emit("cs_loss", torch.cat(cs_loss))
emit("cs_grad", torch.stack(cs_grad))

# --- spherical Z-loss: population std per row, softplus(a (b - z_t)) / a
zn_params = ((1.0, 0.0), (0.5, 2.0))


def z_normalized(x, a, b):
    z = (x - x.mean(-1, keepdim=True)) / x.std(-1, unbiased=False, keepdim=True)
    zt = z.gather(1, cs_t[:, None]).squeeze(1)
    return (F.softplus(a * (b - zt)) / a).mean()


emit("zn_params", torch.tensor(zn_params))
zn_loss, zn_grad = [], []
for a, b in zn_params:
    loss, g = run(lambda x: z_normalized(x, a, b), cs_x)
    zn_loss.append(loss.reshape(1))
    zn_grad.append(g)
emit("zn_loss", torch.cat(zn_loss))
emit("zn_grad", torch.stack(zn_grad))

# --- sampled softmax with a log-q correction, a repeated negative and accidental hits
N, D, NV = 4, 3, 7
ss_h = torch.randn(N, D)
ss_W = torch.randn(NV, D)
ss_t = torch.tensor([2, 5, 0, 2])
ss_neg = torch.tensor([5, 1, 2, 1, 6])
ss_logq = torch.log(torch.softmax(torch.randn(NV), 0))


def sampled(h, W):
    pos = (h * W[ss_t]).sum(1, keepdim=True) - ss_logq[ss_t][:, None]
    neg = h @ W[ss_neg].T - ss_logq[ss_neg][None, :]
    neg = neg.masked_fill(ss_neg[None, :] == ss_t[:, None], float("-inf"))
    return F.cross_entropy(torch.cat([pos, neg], 1), torch.zeros(N, dtype=torch.long))


loss, gh, gW = run(sampled, ss_h, ss_W)
for name, t in (("ss_h", ss_h), ("ss_W", ss_W), ("ss_logq", ss_logq), ("ss_loss", loss.reshape(1)),
                ("ss_grad_h", gh), ("ss_grad_W", gW)):
    emit(name, t)
emit("ss_targets", ss_t, "int32_t")
emit("ss_negatives", ss_neg, "int32_t")

with open("tests/fixtures/losses_fixtures.h", "w") as f:
    f.write("/* Generated by tests/gen_losses_fixtures.py (PyTorch %s); do not edit. */\n" % torch.__version__)
    f.write("#ifndef SEQ_LOSSES_FIXTURES_H\n#define SEQ_LOSSES_FIXTURES_H\n#include <stdint.h>\n")
    f.write("\n".join(lines) + "\n#endif\n")
