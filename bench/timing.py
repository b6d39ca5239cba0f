"""Shared timing for the PyTorch peer scripts in bench/."""
import time


def best_ms(fn, reps, warmup=2):
    """Best wall time of fn() over reps runs, in milliseconds, after warmup runs."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3
