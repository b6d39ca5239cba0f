"""Peer for bench/rl.c: the same 10-arm select+update loops written the usual Python way
(numpy per step, as SMPyBandits and most notebooks do), decisions per second."""
import time
import numpy as np

K, STEPS = 10, 20000
rng = np.random.default_rng(1)
means = np.linspace(0.05, 0.95, K)


def run(select):
    n, s = np.zeros(K), np.zeros(K)
    t0 = time.perf_counter()
    for t in range(1, STEPS + 1):
        a = select(n, s, t)
        r = float(rng.random() < means[a])
        n[a] += 1
        s[a] += r
    return STEPS / (time.perf_counter() - t0)


def ucb1(n, s, t):
    with np.errstate(divide="ignore", invalid="ignore"):
        idx = np.where(n > 0, s / np.maximum(n, 1) + np.sqrt(2 * np.log(t) / np.maximum(n, 1)), np.inf)
    return int(np.argmax(idx))


def thompson(n, s, t):
    return int(np.argmax(rng.beta(1 + s, 1 + n - s)))


def linucb_rate(d=32, steps=5000):
    A = np.stack([np.eye(d)] * K)
    b = np.zeros((K, d))
    t0 = time.perf_counter()
    for _ in range(steps):
        x = rng.standard_normal(d)
        Ainv = np.linalg.inv(A)
        theta = np.einsum("kij,kj->ki", Ainv, b)
        width = np.sqrt(np.einsum("i,kij,j->k", x, Ainv, x))
        a = int(np.argmax(theta @ x + width))
        A[a] += np.outer(x, x)
        b[a] += x * (rng.random() < 0.5)
    return steps / (time.perf_counter() - t0)


print("ucb1_per_s", run(ucb1))
print("thompson_per_s", run(thompson))
print("linucb32_per_s", linucb_rate())
